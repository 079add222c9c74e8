"""Emit stage: one registry of targets.  Adding a language touches one
module here (printer, file layout) and its templates in ``templates/``."""

import importlib
from dataclasses import dataclass
from typing import Callable

from ..errors import UnsupportedError

#: target name -> module in this package that defines ``TARGET``
_TARGET_MODULES = {
    "python": "python_target",
    "numpy": "numpy_target",
    "c": "c_target",
    "matlab": "matlab_target",
    "latex": "latex_target",
}


@dataclass(frozen=True)
class Target:
    """A generation target.

    Attributes:
        name: the name used on the command line.
        render: ``render(request) -> {file name: text}``.
        summary: one line for ``--help``.
        strategies: the emission strategies the target implements.
    """

    name: str
    render: Callable
    summary: str
    strategies: tuple = ("unrolled",)   # "layered" where the target has a layer-wise form


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a target needs: the network, a safe base name, one simplified
    program per requested derivative (in a fixed order) and header lines."""

    network: object
    name: str
    programs: tuple      # ((what, Program), ...)
    header: tuple
    precision: str = "double"
    strategy: str = "unrolled"   # "unrolled" (programs) or "layered" (network, derivatives)
    derivatives: tuple = ()      # the requested derivatives, in the order of programs


def target_names():
    return tuple(_TARGET_MODULES)


def get_target(name):
    module_name = _TARGET_MODULES.get(name)
    if module_name is None:
        raise UnsupportedError(f"unknown target {name!r} (choose from {', '.join(target_names())}, all)")
    return importlib.import_module(f"{__name__}.{module_name}").TARGET
