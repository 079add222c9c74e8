"""What the layered form of every target shares: choosing the strategy, index
runs, and element-wise transfer expressions printed by the target's printer."""

import re
from collections.abc import Sequence

import sympy as sp

from ..errors import UnsupportedError
from ..ir.network import Network
from ..layered.fast import with_fast_activations
from ..layered.network import LayeredNetwork, layered_network
from ..layered.schedule import layered_program
from ..layered.steps import LayeredProgram

STRATEGIES = ("auto", "unrolled", "layered")

#: ``auto`` picks the layered form from this many weights and biases on.  Measured
#: with benchmarks/strategy_threshold.py (tanh MLPs, one thread): the layered C and
#: NumPy code is faster one point per call and in batches from 21 parameters on;
#: generating it takes well under a second at every size, while the unrolled form
#: takes seconds from a few hundred parameters on.  Below the threshold the unrolled
#: form costs little to generate, reads as the formula itself, and the pure-Python
#: unrolled module is several times faster per call (benchmarks/python_layered.py).
LAYERED_FROM_PARAMETERS = 60


def resolve_strategy(strategy, net):
    """"unrolled" or "layered" for ``strategy`` (one of STRATEGIES) on ``net``."""
    return choose_strategy(strategy, net)[0]


def choose_strategy(strategy, net, layered_from=None, folded=None):
    """(``resolve_strategy``'s answer, the folded LayeredNetwork where it is "layered", else
    None): the driver folds the network once, to choose and then to build the programs.
    ``layered_from``: a target's own threshold for "auto" (None: LAYERED_FROM_PARAMETERS);
    ``folded``: ``layered_network(net)`` where an earlier choice made it already."""
    if strategy not in STRATEGIES:
        raise UnsupportedError(f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGIES)})")
    threshold = LAYERED_FROM_PARAMETERS if layered_from is None else layered_from
    if strategy == "unrolled" or (strategy == "auto" and net.parameter_count < threshold):
        return "unrolled", None
    if folded is not None:
        return "layered", folded
    if strategy == "layered":
        return "layered", layered_network(net)   # refuses, naming the reason, what it cannot hold
    try:
        return "layered", layered_network(net)
    except UnsupportedError:
        return "unrolled", None


def layered_programs(net: Network, derivatives: Sequence[str], folded: LayeredNetwork | None = None,
                     activations: str = "exact") -> tuple[tuple[str, LayeredProgram], ...]:
    """((what, LayeredProgram), ...) for the requested derivatives, in the given order
    (``folded``: ``layered_network(net)`` where the caller has it already; ``activations``:
    "fast" writes tanh and the logistic in their fast forms, symnet.layered.fast)."""
    folded = layered_network(net) if folded is None else folded
    if activations == "fast":
        folded = with_fast_activations(folded)
    return tuple((what, layered_program(folded, what)) for what in derivatives)


def request_programs(request) -> tuple[tuple[str, LayeredProgram], ...]:
    """The layered programs of a GenerationRequest: those the driver built once for every
    backend, or (a request made by hand) built here."""
    return request.layered or layered_programs(request.network, request.derivatives,
                                               activations=request.activations)


def argument_size(size):
    """The count of an extra argument as the layered modules write it: the module's N_INPUTS or
    N_OUTPUTS, or a user expression's parameter's own number."""
    return str(size) if isinstance(size, int) else f"N_{size.upper()}"


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
    """The statements of an Elementwise (or Reduction) step as ((target, text), ...): target is the
    out Operand or the printed name of a temporary; each per-element symbol is
    replaced by ``name_of(operand)`` (an array name or an indexed element)."""
    places = {symbol: (operand,) for symbol, operand in step.arguments}
    return tuple((target if hasattr(target, "axes") else printer.doprint(target),
                  _print_in_fixed_order(sp.sympify(expression), places, printer, name_of))
                 for target, expression in step.statements)


def print_scalars(step, printer, name_of):
    """The scalars of a Reduction step as ((name, operator, text), ...), each per-element
    symbol replaced by ``name_of(operand)``."""
    replacements = {symbol: sp.Symbol(name_of(operand), real=True) for symbol, operand in step.arguments}
    return tuple((printer.doprint(symbol), operator, printer.doprint(sp.sympify(expression).xreplace(replacements)))
                 for symbol, operator, expression in step.scalars)


def _print_in_fixed_order(expression, elements, printer, element):
    """``expression`` printed with each symbol of ``elements`` replaced by ``element(*place)``,
    the terms in the same order whatever the elements' texts: sympy orders the terms of a sum
    by their symbols' names, so the C target's single-point and batch forms (whose arrays are
    spelled apart: a block's may sit in a union) would add them in different orders;
    placeholders named after the symbols' own order keep the two bit for bit alike."""
    used = sorted((symbol for symbol in elements if symbol in expression.free_symbols), key=sp.default_sort_key)
    placeholders = {symbol: sp.Symbol(f"symnet_element_{index:04d}", real=True) for index, symbol in enumerate(used)}
    text = printer.doprint(sp.sympify(expression).xreplace(placeholders))
    return re.sub(r"\bsymnet_element_(\d{4})\b", lambda match: element(*elements[used[int(match.group(1))]]), text)


def reads_units(step, expression):
    """True when ``expression`` of a Reduction step reads a per-unit array, itself or through
    the step's temporaries (else it is one value per point: an array written from it is
    that value in every unit)."""
    per_unit = {symbol for symbol, _ in step.arguments}
    for target, value in step.statements:   # a temporary comes before its first use
        if not hasattr(target, "axes") and sp.sympify(value).free_symbols & per_unit:
            per_unit.add(target)
    return bool(sp.sympify(expression).free_symbols & per_unit)


def print_output_map(step, printer, element):
    """The entries of an OutputMap step as ((targets, text), ...): ``element(operand, index)``
    is the language's text of one element of a per-point array (index 0-based: row, inputs)."""
    from ..layered.steps import output_map_elements
    printed = []
    for targets, expression in step.entries:
        elements = output_map_elements(step, targets[0][0])
        if step.elements:
            printed.append((targets, _print_in_fixed_order(expression, elements, printer, element)))
            continue
        replacements = {symbol: sp.Symbol(element(*place), real=True) for symbol, place in elements.items()
                        if symbol in expression.free_symbols}
        printed.append((targets, printer.doprint(sp.sympify(expression).xreplace(replacements))))
    return tuple(printed)
