"""Output maps: a raw output u = E(x, y) of the raw inputs x_0, x_1, ... (all of them,
concatenated in input order) and the network's own value y of that output row (after
its output processing, in raw units).

This is how hard-constrained outputs are written: u = x_0*(1 - x_0)*y vanishes on
the boundary whatever the network does, u = g(x) + d(x)*y meets g where d is zero
(DeepXDE's output transforms, PINN forwards).  A map is stored as text over the
names ``x_0`` ... and ``y`` and read back by symnet.ir.expression_text's parser, which
never evaluates the text; every stage differentiates E by sympy.
"""

from functools import lru_cache

import sympy as sp

from ..errors import ModelFormatError
from .expression_text import expression_of, to_text

#: the network value of the output row a map is applied to
Y = sp.Symbol("y", real=True)

WHAT = "output map"


def raw_input_symbols(n_inputs):
    """x_0 ... x_{n-1}: the same symbols as the symbolic stage's raw inputs."""
    return tuple(sp.Symbol(f"x_{k}", real=True) for k in range(n_inputs))


def parse(text, n_inputs):
    """The sympy expression of an output map's text; ModelFormatError names the problem."""
    if isinstance(text, sp.Basic):
        text = to_text(text)
    symbols = {s.name: s for s in raw_input_symbols(n_inputs)}
    symbols["y"] = Y
    alone = f"x_0 ... x_{n_inputs - 1} and y" if n_inputs > 1 else "x_0 and y"
    return _parsed(text, tuple(symbols.items()), alone)


@lru_cache(maxsize=256)
def _parsed(text, symbols, alone):
    return expression_of(text, dict(symbols), WHAT, alone)


def _without_abs(expr):
    """|e| as the choice between e and -e: its derivatives are then choices too, where sympy's
    derivatives of |e| hold sign(e) and DiracDelta(e), which no target prints (away from the
    kink they are the same numbers; at it, the derivative of the branch e >= 0)."""
    return expr.replace(sp.Abs, lambda e: sp.Piecewise((e, e >= 0), (-e, True)))


def canonical(text, n_inputs):
    """The stored text of a map given as text or sympy: parsed and printed again."""
    return to_text(parse(text, n_inputs))


def row_maps(net, output):
    """One expression per raw row of ``output`` (a single map serves every row), or None."""
    if not output.output_map:
        return None
    expressions = [_without_abs(parse(text, net.n_inputs)) for text in output.output_map]
    size = net.output_size(output)
    return expressions * size if len(expressions) == 1 else expressions


def check(output, size, n_inputs):
    """The canonical texts of ``output``'s maps: one, or one per row of its ``size``."""
    texts = output.output_map
    if isinstance(texts, (str, sp.Basic)):
        texts = (texts,)
    texts = tuple(texts)
    if len(texts) not in (0, 1, size):
        raise ModelFormatError(f"output {output.name!r} has {len(texts)} output maps for {size} rows"
                               " (give one for every row, or one for all)")
    try:
        return tuple(canonical(text, n_inputs) for text in texts)
    except ModelFormatError as error:
        raise ModelFormatError(f"output {output.name!r}: {error.problem}")


def all_row_maps(net):
    """Per raw output row of ``net``: its map's expression, or None."""
    rows = []
    for output in net.outputs:
        maps = row_maps(net, output)
        rows.extend(maps if maps is not None else [None] * net.output_size(output))
    return rows


def has_output_map(net):
    return any(output.output_map for output in net.outputs)
