"""Import stage: every model source becomes the same Network IR.

``load`` dispatches on the file suffix or on the type of a Python object.
Importers with heavy dependencies are imported only when used.
"""

import importlib
import inspect
import stat
from pathlib import Path

from ..errors import ModelFormatError, SymnetError, UnsupportedError
from ..ir.network import Network

#: file suffix -> (module in this package, function name)
FILE_IMPORTERS = {
    ".json": ("json_format", "load_json"),
    ".onnx": ("onnx_model", "load_onnx"),
    ".pt": ("torch_module", "load_torch_file"),
    ".pth": ("torch_module", "load_torch_file"),
    ".pkl": ("pickled", "load_pickle"),
    ".pickle": ("pickled", "load_pickle"),
    ".joblib": ("pickled", "load_pickle"),
    ".m": ("matlab_genfunction", "load_genfunction"),
    ".mat": ("matlab_mat", "load_mat"),
    ".keras": ("keras_model", "load_keras"),
    ".h5": ("keras_model", "load_h5"),
    ".hdf5": ("keras_model", "load_h5"),
}

#: (module of the object's class prefix, module in this package, function name);
#: matched on class names only, so that torch and sklearn are imported only when used
OBJECT_IMPORTERS = (
    ("torch.", "torch_module", "load_module"),
    ("sklearn.", "sklearn_model", "load_estimator"),
    ("onnx.", "onnx_model", "load_model_proto"),
)

#: options that grant a permission; formats that need no permission ignore them
PERMISSIONS = ("trust_pickle",)


def load(source, **options) -> Network:
    """A Network from a model file path or a supported Python object."""
    if isinstance(source, Network):
        return source
    if isinstance(source, (str, Path)):
        return _load_file(Path(source), options)
    for class_module_prefix, module, function in OBJECT_IMPORTERS:
        if any(k.__module__.startswith(class_module_prefix) for k in type(source).__mro__):
            importer = _importer(module, function)
            return importer(source, **_accepted(importer, options, f"a {type(source).__name__} object"))
    raise UnsupportedError(f"cannot load a model from a {type(source).__name__} object")


def _load_file(path, options):
    suffix = path.suffix.lower()
    if suffix not in FILE_IMPORTERS:
        known = ", ".join(sorted(FILE_IMPORTERS))
        raise UnsupportedError(f"unknown model file type {suffix or '(no suffix)'!r} (supported: {known})", path)
    problem = _not_a_regular_file(path)
    if problem:
        raise ModelFormatError(problem, path)
    module, function = FILE_IMPORTERS[suffix]
    try:
        importer = _importer(module, function)
        return importer(path, **_accepted(importer, options, f"{suffix} files"))
    except SymnetError as error:
        raise error.with_source(path)


#: what a path is when it is not a regular file, by the stat test that says so
_SPECIAL_FILES = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                  (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                  (stat.S_ISSOCK, "a socket"))


def _not_a_regular_file(path):
    """Why ``path`` (after links) cannot be read as a model file, or None. Only regular files are
    read: a FIFO would block and a device such as /dev/zero never ends."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file"
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _SPECIAL_FILES if test(mode)), "a special file")
    return f"is {kind}, not a model file"


def _accepted(importer, options, what):
    """The options ``importer`` takes; an option it does not know is an error, unless it is a permission."""
    parameters = inspect.signature(importer).parameters
    unknown = [key for key in options if key not in parameters and key not in PERMISSIONS]
    if unknown:
        raise UnsupportedError(f"option {unknown[0]!r} does not apply to {what}")
    return {key: value for key, value in options.items() if key in parameters}


def _importer(module, function):
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)
