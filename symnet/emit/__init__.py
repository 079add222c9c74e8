"""Emit stage: one registry of backends, one package per language.

``symnet/emit/<language>/`` holds a language's printer, its unrolled and layered
emitters and its ``BACKEND`` (symnet.emit.backend.Backend: its facts); its templates
are in ``symnet/templates/<language>/``.  Adding a language is one such package, one
template folder and one line in ``BACKENDS`` (docs/adding-a-language.md).
"""

import importlib
from dataclasses import dataclass

from ..errors import UnsupportedError
from ..ir.network import Network
from ..layered.steps import LayeredProgram
from ..unrolled.program import Program
from .backend import Backend

#: backend name -> package in this package that defines ``BACKEND``
BACKENDS = {
    "python": "python",
    "numpy": "numpy",
    "c": "c",
    "matlab": "matlab",
    "latex": "latex",
    "fmu": "fmu",
    "casadi": "casadi",
}


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a target needs: the network, a safe base name, one simplified
    program per requested derivative (in a fixed order) and header lines."""

    network: Network
    name: str
    programs: tuple[tuple[str, Program | None], ...]   # ((what, Program), ...); None under the layered strategy
    header: tuple[str, ...]
    precision: str = "double"
    strategy: str = "unrolled"   # "unrolled" (programs) or "layered" (network, derivatives)
    derivatives: tuple[str, ...] = ()      # the requested derivatives, in the order of programs
    layered: tuple[tuple[str, LayeredProgram], ...] = ()   # ((what, LayeredProgram), ...): built once by the driver for every backend
    ode_states: int = 0          # fmu: the first ode_states outputs are the time derivatives of the first inputs
    activations: str = "exact"   # "exact" or "fast" (symnet.layered.fast; only backends listing it in activation_modes)


def target_names() -> tuple[str, ...]:
    return tuple(BACKENDS)


def get_target(name: str) -> Backend:
    """The Backend called ``name``."""
    package = BACKENDS.get(name)
    if package is None:
        raise UnsupportedError(f"unknown target {name!r} (choose from {', '.join(target_names())}, all)")
    return importlib.import_module(f"{__name__}.{package}").BACKEND


def backends() -> tuple[Backend, ...]:
    """Every registered Backend, in registry order."""
    return tuple(get_target(name) for name in BACKENDS)
