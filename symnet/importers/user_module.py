"""The module object a state dict belongs to, named on the command line as
``package.module:Class`` or ``path/to/file.py:Class``.

This imports and runs the user's own code (the module or file they name), then
builds ``Class()`` with no arguments; every way that can fail is a SymnetError
naming the specification.
"""

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

from ..errors import ModelFormatError, UnsupportedError

USAGE = "expected MODULE:CLASS or FILE.py:CLASS (a class that builds with no arguments)"


def split_spec(spec):
    """(module or file, class name) of ``spec``, or ValueError; split at the last colon,
    so that a Windows path keeps its drive letter."""
    where, _, class_name = str(spec).rpartition(":")
    if not where.strip() or not class_name.isidentifier():
        raise ValueError(f"{USAGE}, got {spec!r}")
    return where, class_name


def instantiate(spec):
    """``Class()`` from the module or file ``spec`` names."""
    try:
        where, class_name = split_spec(spec)
    except ValueError as error:
        raise UnsupportedError(str(error), spec) from None
    module = _import(where, spec)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ModelFormatError(f"{where} has no class {class_name!r}", spec)
    if not inspect.isclass(cls):
        raise ModelFormatError(f"{class_name} in {where} is not a class but a {type(cls).__name__}", spec)
    try:
        return cls()
    except Exception as error:   # the user's constructor: any failure is theirs, a TypeError if it needs arguments
        raise ModelFormatError(f"{class_name}() failed, and --module builds it with no arguments:"
                               f" {type(error).__name__}: {error}", spec) from None


def _is_file(where):
    return where.endswith(".py") or "/" in where or "\\" in where


def _import(where, spec):
    """Import the user's module: a file by its path, a dotted name from the current folder
    or the installed packages.  The folder of the code goes on sys.path, as when Python runs it."""
    try:
        if _is_file(where):
            return _import_file(Path(where), spec)
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        return importlib.import_module(where)
    except ModelFormatError:
        raise
    except ModuleNotFoundError as error:
        raise ModelFormatError(f"cannot import {where}: {error}", spec) from None
    except Exception as error:   # the user's module raised while it was imported
        raise ModelFormatError(f"importing {where} failed: {type(error).__name__}: {error}", spec) from None


def _import_file(path, spec):
    if not path.is_file():
        raise ModelFormatError(f"no such file {str(path)!r}", spec)
    name = f"symnet_user_{path.stem}" if path.stem.isidentifier() else "symnet_user_module"
    loader_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(loader_spec)
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    loader_spec.loader.exec_module(module)
    return module
