"""What the layered form of every target shares: choosing the strategy, index
runs, and element-wise transfer expressions printed by the target's printer."""

import sympy as sp

from ..errors import UnsupportedError
from ..layered import layered_network
from ..layered_schedule import layered_program

STRATEGIES = ("auto", "unrolled", "layered")

#: ``auto`` picks the layered form from this many weights and biases on.  Measured
#: (benchmarks/strategy_threshold.py): below it, unrolled scalar code is as fast
#: or faster to run and quick to generate; above it the layered form wins on both.
LAYERED_FROM_PARAMETERS = 200


def resolve_strategy(strategy, net):
    """"unrolled" or "layered" for ``strategy`` (one of STRATEGIES) on ``net``."""
    if strategy not in STRATEGIES:
        raise UnsupportedError(f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGIES)})")
    if strategy != "auto":
        return strategy
    return "layered" if net.parameter_count >= LAYERED_FROM_PARAMETERS else "unrolled"


def layered_programs(net, derivatives):
    """((what, LayeredProgram), ...) for the requested derivatives, in the given order."""
    folded = layered_network(net)
    return tuple((what, layered_program(folded, what)) for what in derivatives)


def merged_constants(programs):
    """Every constant of the programs once, in order of first use."""
    merged = {}
    for _, program in programs:
        for name, value in program.constants:
            merged.setdefault(name, value)
    return tuple(merged.items())


def index_run(indices):
    """(start, stop) when the indices are consecutive, else None."""
    indices = tuple(indices)
    if indices and indices == tuple(range(indices[0], indices[0] + len(indices))):
        return indices[0], indices[0] + len(indices)
    return None


def print_elementwise(step, printer, name_of):
    """The statements of an Elementwise step as ((target, text), ...): target is the
    out Operand or the printed name of a temporary; each per-element symbol is
    replaced by ``name_of(operand)`` (an array name or an indexed element)."""
    replacements = {symbol: sp.Symbol(name_of(operand), real=True) for symbol, operand in step.arguments}
    return tuple((target if hasattr(target, "axes") else printer.doprint(target),
                  printer.doprint(sp.sympify(expression).xreplace(replacements)))
                 for target, expression in step.statements)
