"""Import stage: every model source becomes the same Network IR.

``load`` dispatches on the file suffix or on the type of a Python object.
Importers with heavy dependencies are imported only when used.
"""

import importlib
from pathlib import Path

from ..errors import ModelFormatError, SymnetError, UnsupportedError
from ..ir import Network

#: file suffix -> (module in this package, function name)
FILE_IMPORTERS = {
    ".json": ("json_format", "load_json"),
}

#: (module of the object's class prefix, module in this package, function name)
OBJECT_IMPORTERS = ()


def load(source, **options):
    """A Network from a model file path or a supported Python object."""
    if isinstance(source, Network):
        return source
    if isinstance(source, (str, Path)):
        return _load_file(Path(source), options)
    for class_module_prefix, module, function in OBJECT_IMPORTERS:
        if any(k.__module__.startswith(class_module_prefix) for k in type(source).__mro__):
            return _importer(module, function)(source, **options)
    raise UnsupportedError(f"cannot load a model from a {type(source).__name__} object")


def _load_file(path, options):
    suffix = path.suffix.lower()
    if suffix not in FILE_IMPORTERS:
        known = ", ".join(sorted(FILE_IMPORTERS))
        raise UnsupportedError(f"unknown model file type {suffix or '(no suffix)'!r} (supported: {known})", path)
    if not path.is_file():
        raise ModelFormatError("no such file", path)
    module, function = FILE_IMPORTERS[suffix]
    try:
        return _importer(module, function)(path, **options)
    except SymnetError as error:
        raise error.with_source(path)


def _importer(module, function):
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)
