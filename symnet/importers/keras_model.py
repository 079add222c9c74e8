"""Keras importer (extra ``symnet[keras]``, h5py only): ``.keras`` archives of Keras 3 and
legacy ``.h5``/``.hdf5`` models of Keras 2 and 3, read without TensorFlow or Keras.

This module turns a file into plain data: the model's JSON configuration and, for each
layer, its weights as named float64 arrays.  ``keras_graph`` walks the configuration.
Nothing in the file is ever executed or imported: the configuration is read as JSON
(the ``module`` and ``registered_name`` it names are only compared with Keras's own),
and the weights are read as numeric HDF5 datasets.

Where the weights are:

* ``.keras``: a zip of ``config.json``, ``metadata.json`` and ``model.weights.h5``, whose
  ``layers/<tracked name>/vars/<i>`` hold each layer's variables in the order the layer
  creates them; the tracked name is the layer class in snake case with a counter
  (``dense``, ``dense_1``), and recent Keras versions also store the layer's own name in the
  ``name`` attribute of ``vars``.
* ``.h5``: the attribute ``model_config`` (JSON) and ``model_weights/<layer>`` groups whose
  ``weight_names`` attribute lists the datasets (``dense/kernel:0`` in Keras 2).
"""

import functools
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from ..errors import MissingExtraError, ModelFormatError, SizeLimitError, UnsupportedError

#: largest config.json / model.weights.h5 read from an archive (a zip can claim any size)
MAX_CONFIG_BYTES = 64 * 2**20
MAX_WEIGHTS_BYTES = 2 * 2**30

#: the variables each layer class creates, in order (``.keras`` stores them unnamed);
#: a list of (name, config flag that must be true for it to exist, or None)
VARIABLE_ORDER = {
    "Dense": (("kernel", None), ("bias", "use_bias")),
    "BatchNormalization": (("gamma", "scale"), ("beta", "center"), ("moving_mean", None),
                           ("moving_variance", None)),
    "LayerNormalization": (("gamma", "scale"), ("beta", "center")),
    "PReLU": (("alpha", None),),
    "Normalization": (("mean", None), ("variance", None), ("count", None)),
}


def _hdf5_reader(what):
    """Decorator: h5py reports a damaged file with whatever exception its C layer maps the
    failure to (OSError, RuntimeError, KeyError, TypeError, ValueError); each is the file's
    fault here, since the decorated functions do nothing but read it."""
    def decorate(function):
        @functools.wraps(function)
        def read(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except (OSError, RuntimeError, KeyError, TypeError, ValueError) as error:
                problem = " ".join(str(error).split())[:200]
                raise ModelFormatError(f"damaged HDF5 data in {what}: {type(error).__name__}: {problem}") from None
        return read
    return decorate


def _h5py():
    try:
        import h5py
    except ImportError:
        raise MissingExtraError("reading Keras models needs h5py: pip install symnet[keras]") from None
    return h5py


class KerasFile:
    """What ``keras_graph`` needs from a file: the model config, the Keras major version
    that wrote it and ``weights(layer config, index) -> {name: float64 array}``."""

    def __init__(self, config, keras_major, weights, handle=None):
        self.config = config
        self.keras_major = keras_major
        self.weights = weights
        self.handle = handle

    def close(self):
        if self.handle is not None:
            self.handle.close()


def load_keras(path):
    """A Network from a Keras 3 ``.keras`` archive."""
    return _network(read_keras_archive(path), path)


def load_h5(path):
    """A Network from a legacy Keras ``.h5``/``.hdf5`` model file."""
    return _network(read_h5_model(path), path)


def _network(model_file, path):
    from .keras_graph import build_network
    try:
        return build_network(model_file, Path(path).stem)
    finally:
        model_file.close()


# --- .keras -------------------------------------------------------------------------------

def read_keras_archive(path):
    h5py = _h5py()
    if not zipfile.is_zipfile(path):
        raise ModelFormatError("not a .keras archive (not a zip file)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise ModelFormatError("the archive has no config.json (is it a .keras model?)")
            config = _json(_member(archive, "config.json", MAX_CONFIG_BYTES), "config.json")
            metadata = {}
            if "metadata.json" in names:
                metadata = _json(_member(archive, "metadata.json", MAX_CONFIG_BYTES), "metadata.json")
            weights = None
            if "model.weights.h5" in names:
                weights = _member(archive, "model.weights.h5", MAX_WEIGHTS_BYTES)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
        raise ModelFormatError(f"cannot read the .keras archive: {error}") from None
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    if weights is None:
        return KerasFile(config, _major(version, default=3), _no_weights)
    try:
        handle = h5py.File(io.BytesIO(weights), "r")
    except OSError as error:
        raise ModelFormatError(f"model.weights.h5 in the archive is not an HDF5 file: {error}") from None
    return KerasFile(config, _major(version, default=3), _ArchiveWeights(handle, config), handle)


def _member(archive, name, limit):
    size = archive.getinfo(name).file_size
    if size > limit:
        raise SizeLimitError(f"{name} in the archive is {size} bytes, more than the limit of {limit}")
    with archive.open(name) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise SizeLimitError(f"{name} in the archive is more than {limit} bytes")
    return data


def _json(data, what):
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ModelFormatError(f"{what} is not valid JSON: {error}") from None


def _major(version, default):
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    match = re.match(r"\s*(\d+)\.", str(version)) if version is not None else None
    return int(match.group(1)) if match else default


def _no_weights(layer, index):
    return {}


def _snake_case(name):
    """Keras's ``naming.to_snake_case``: the name a layer's variables are tracked under."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class _ArchiveWeights:
    """The variables of ``model.weights.h5``, found by layer name (the ``name`` attribute
    of ``vars``) or else by the tracked name Keras derives from the layer list."""

    @_hdf5_reader("model.weights.h5")
    def __init__(self, handle, config):
        self.handle = handle
        self.by_name = {}
        layers = handle.get("layers")
        if layers is not None and not isinstance(layers, _h5py().Group):
            raise ModelFormatError("model.weights.h5: 'layers' is not a group")
        group_type = _h5py().Group
        for tracked in (layers if layers is not None else {}):
            variables = layers[tracked].get("vars") if isinstance(layers[tracked], group_type) else None
            name = variables.attrs.get("name") if isinstance(variables, group_type) else None
            if isinstance(name, bytes):
                name = name.decode("utf-8", "replace")
            if isinstance(name, str):
                self.by_name[name] = variables
        self.tracked = _tracked_names(config)

    @_hdf5_reader("model.weights.h5")
    def __call__(self, layer, index):
        name = layer.get("config", {}).get("name", layer.get("name"))
        variables = self.by_name.get(name)
        if variables is None:
            tracked = self.tracked.get(index)
            group = self.handle.get(f"layers/{tracked}/vars") if tracked else None
            variables = group
        arrays = []
        if isinstance(variables, _h5py().Group):
            keys = sorted((k for k in variables if k.isdigit()), key=int)
            arrays = [_dataset(variables[k], f"variable {k} of layer {name!r}") for k in keys]
        return _named(layer, name, arrays)


def _tracked_names(config):
    """Layer index in the config -> tracked name (Sequential models do not track their InputLayer)."""
    layers = _layer_list(config)
    sequential = isinstance(config, dict) and config.get("class_name") == "Sequential"
    used, names = {}, {}
    for index, layer in enumerate(layers):
        class_name = str(layer.get("class_name", "")) if isinstance(layer, dict) else ""
        if sequential and class_name == "InputLayer":
            continue
        name = _snake_case(class_name)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        names[index] = name
    return names


def _layer_list(config):
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else inner
    return layers if isinstance(layers, list) else []


def _named(layer, name, arrays):
    """Unnamed variables in creation order -> {name: array}."""
    if not arrays:
        return {}
    class_name = layer.get("class_name")
    order = VARIABLE_ORDER.get(class_name)
    if order is None:
        raise UnsupportedError(f"layer {name!r} ({class_name}) has {len(arrays)} weight arrays,"
                               " which symnet does not know how to read")
    config = layer.get("config") or {}
    names = [key for key, flag in order if flag is None or config.get(flag, True)]
    if len(arrays) != len(names):
        raise ModelFormatError(f"layer {name!r} ({class_name}) has {len(arrays)} weight arrays,"
                               f" expected {len(names)} ({', '.join(names)})")
    return dict(zip(names, arrays))


def _dataset(item, what):
    h5py = _h5py()
    if not isinstance(item, h5py.Dataset):
        raise ModelFormatError(f"{what} is not an HDF5 dataset")
    if item.dtype.kind not in "fiu":
        raise ModelFormatError(f"{what} holds {item.dtype} data, not numbers")
    if item.size > 10**8:
        raise SizeLimitError(f"{what} has {item.size} elements, more than the limit of 100000000")
    try:
        return np.asarray(item[()], dtype=float)
    except (OSError, ValueError, TypeError) as error:
        raise ModelFormatError(f"cannot read {what}: {error}") from None


# --- legacy .h5 -----------------------------------------------------------------------

def read_h5_model(path):
    h5py = _h5py()
    try:
        handle = h5py.File(str(path), "r")
    except OSError as error:
        raise ModelFormatError(f"not an HDF5 file: {error}") from None
    try:
        return _h5_model(handle)
    except BaseException:
        handle.close()
        raise


@_hdf5_reader("the file")
def _h5_model(handle):
    text = handle.attrs.get("model_config")
    if text is None:
        if "layer_names" in handle.attrs:
            raise UnsupportedError("the file holds weights only (save_weights): save the whole model with"
                                   " model.save(...), or as a .keras archive")
        raise ModelFormatError("no model_config attribute: not a Keras model file")
    if isinstance(text, np.ndarray) and text.size == 1:
        text = text.reshape(-1)[0]
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise ModelFormatError("the model_config attribute is not text")
    config = _json(text, "model_config")
    root = handle.get("model_weights", handle)
    version = handle.attrs.get("keras_version", root.attrs.get("keras_version"))
    return KerasFile(config, _major(version, default=2), _LegacyWeights(root), handle)


class _LegacyWeights:
    """``model_weights/<layer>``: datasets listed by the group's ``weight_names`` attribute."""

    def __init__(self, root):
        self.root = root

    @_hdf5_reader("the file")
    def __call__(self, layer, index):
        config = layer.get("config") or {}
        name = config.get("name", layer.get("name"))
        group = self.root.get(str(name)) if isinstance(name, str) else None
        if group is None:
            return {}
        listed = group.attrs.get("weight_names", [])
        arrays = {}
        for entry in np.asarray(listed).reshape(-1):
            entry = entry.decode("utf-8", "replace") if isinstance(entry, bytes) else str(entry)
            item = group.get(entry)
            if item is None:
                raise ModelFormatError(f"layer {name!r}: weight {entry!r} is listed but not in the file")
            key = entry.rsplit("/", 1)[-1].split(":", 1)[0]
            arrays[key] = _dataset(item, f"weight {entry!r} of layer {name!r}")
        return arrays
