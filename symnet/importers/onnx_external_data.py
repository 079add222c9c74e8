"""Tensors an ONNX file keeps in external data files (``torch.onnx.export`` writes its
weights to ``model.onnx.data`` next to the model), read only from the model's own folder.

A location is the file's own statement of where to read: an absolute one, one that
climbs out of the folder (``../``), or a symbolic link pointing out of it, would let a
model file read any file on the machine, so each is refused and the error says why.
"""

from pathlib import Path, PurePosixPath, PureWindowsPath

from ..errors import ModelFormatError, UnsupportedError


def load_external_data(onnx, model, path):
    """Fill the external tensors of ``model`` (read from ``path``) from its folder."""
    folder = Path(path).resolve().parent
    for tensor in _tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        where = f"initializer {tensor.name!r}"
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        _require_inside(folder, location, where)
        try:
            onnx.external_data_helper.load_external_data_for_tensor(tensor, str(folder))
        except Exception as error:  # onnx raises OSError, ValueError and its own errors for bad ranges
            raise ModelFormatError(f"{where}: cannot read its external data from {location!r}:"
                                   f" {type(error).__name__}: {error}") from None
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]


def _tensors(graph):
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t


def _require_inside(folder, location, where):
    if not location:
        raise ModelFormatError(f"{where}: its external data has no location")
    if PurePosixPath(location).is_absolute() or PureWindowsPath(location).is_absolute() \
            or PureWindowsPath(location).drive:
        raise UnsupportedError(f"{where}: its external data location {location!r} is absolute; symnet reads"
                               " external data only from the model's own folder")
    target = (folder / location).resolve()
    if not target.is_relative_to(folder):
        raise UnsupportedError(f"{where}: its external data location {location!r} leaves the model's folder"
                               " (through '..' or a symbolic link); symnet reads external data only from"
                               " the model's own folder")
    if not target.is_file():
        raise ModelFormatError(f"{where}: its external data file {location!r} is not in the model's folder")
