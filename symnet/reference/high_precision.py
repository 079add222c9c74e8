"""High-precision reference values: value, gradient, Jacobian and Hessian of a
Network computed straight from the IR in mpmath and exact integer arithmetic,
by second-order forward mode: each quantity carries, at every point, its
components [value, d/dx_k, d2/dx_k dx_m (k <= m)] with respect to the raw inputs.

This path shares nothing with the symbolic, derive, simplify and emit
stages except the processing steps' own ``apply``/``reverse`` and each
transfer function's sympy formula (its textbook form where the registry
keeps a numerically safe rewriting), differentiated here by sympy.

Where the time goes decides the shape.  Between transfer functions a
network is linear, for the value and every derivative component alike, so a
layer's net inputs are computed for all units, points and components at
once, exactly in integer arithmetic (symnet.reference.fixed_point), and the chain rule
through an element-wise transfer function multiplies by f'(n) and f''(n)
exactly too.  Rounding happens only where f, f' and f'' are evaluated
(mpmath, at the working precision, from the net input rounded to it), where
a layer's activations are put on one exponent per column (exact unless a
column spans more than the working precision plus GUARD_BITS), and in the output steps (mpmath).  Softmax, a
function of the whole layer, is differentiated in mpmath by forward mode over its expression graph
(symnet.reference.jets), whose cost follows the graph, not the size of sympy's derivatives of it.

Where many inputs meet few outputs and no Hessian is asked for, reverse mode
(symnet.reference.high_precision_reverse) gives the value and the Jacobian with the same digits
at a cost that follows the output rows instead of the inputs; ``reference_numbers_of``
picks the cheaper mode (``chosen_mode``).
"""

from dataclasses import dataclass
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from .. import progress
from ..errors import UnsupportedError
from ..ir import output_map as output_maps
from ..ir.transfer import lookup
from .fixed_point import Dyadic, affine
from .jets import UnsupportedNode
from .jets import evaluate as jets_of

DIGITS = 30

#: derivative order each result needs
ORDER = {"value": 0, "gradient": 1, "jacobian": 1, "hessian": 2}


@dataclass(frozen=True)
class Layout:
    """Where each component of a quantity sits: the value at 0, d/dx_k at 1 + k,
    then d2/dx_k dx_m for each k <= m in ``pairs`` order (up to ``order``)."""

    n_inputs: int
    order: int

    @property
    def pairs(self):
        n = self.n_inputs
        return [(k, m) for k in range(n) for m in range(k, n)] if self.order > 1 else []

    @property
    def size(self):
        return 1 + (self.n_inputs if self.order > 0 else 0) + len(self.pairs)

    @property
    def first(self):
        return slice(1, 1 + self.n_inputs) if self.order > 0 else slice(1, 1)

    @property
    def second(self):
        return slice(1 + self.n_inputs, self.size)


def mpf_of(value):
    """An mpf of a number from numpy, sympy (a constant row) or lambdify (ints for constants)."""
    if isinstance(value, mpmath.mpf):
        return value
    return mpmath.mpf(value) if isinstance(value, int) else mpmath.mpf(float(value))


def _zeros(shape):
    array = np.empty(shape, dtype=object)
    array[...] = mpmath.mpf(0)
    return array


class Jet:
    """One row of a processing step at every point: ``parts`` (points, components).
    The steps are affine with numeric constants: a constant term shifts the value
    only, a factor scales every component."""

    __slots__ = ("parts",)
    __array_ufunc__ = None   # numpy scalars defer to Jet's reflected operators

    def __init__(self, parts):
        self.parts = parts

    @classmethod
    def constant(cls, value, shape):
        parts = _zeros(shape)
        parts[:, 0] = mpf_of(value)
        return cls(parts)

    def _shifted(self, offset):
        if isinstance(offset, Jet):
            return NotImplemented
        parts = self.parts.copy()
        parts[:, 0] = parts[:, 0] + mpf_of(offset)
        return Jet(parts)

    def __add__(self, other):
        return self._shifted(other)

    __radd__ = __add__

    def __sub__(self, other):
        return self._shifted(-other)

    def __rsub__(self, other):
        return (-self)._shifted(other)

    def __neg__(self):
        return Jet(-self.parts)

    def __mul__(self, other):
        return NotImplemented if isinstance(other, Jet) else Jet(self.parts * mpf_of(other))

    __rmul__ = __mul__

    def __truediv__(self, other):
        return NotImplemented if isinstance(other, Jet) else Jet(self.parts / mpf_of(other))


def _as_jet(row, shape):
    """A row a step returned: a Jet, or a constant (removed output rows)."""
    return row if isinstance(row, Jet) else Jet.constant(row, shape)


def _raw_inputs(points, layout):
    """The raw inputs as Jets: x_k with d/dx_k = 1."""
    jets = []
    for k in range(layout.n_inputs):
        parts = _zeros((len(points), layout.size))
        parts[:, 0] = [mpf_of(x) for x in points[:, k]]
        if layout.order > 0:
            parts[:, 1 + k] = mpmath.mpf(1)
        jets.append(Jet(parts))
    return jets


def forward(net, points, order=2):
    """The raw outputs of ``net`` at the raw inputs ``points`` (count, n_inputs; floats
    or mpf), with derivatives up to ``order``, at the working precision: an array
    (outputs, points, components) of mpf laid out as ``Layout(net.n_inputs, order)``."""
    layout = Layout(net.n_inputs, order)
    shape = (len(points), layout.size)
    raw, start, processed = _raw_inputs(points, layout), 0, []
    for inp in net.inputs:
        rows = raw[start:start + inp.size]
        start += inp.size
        for step in inp.steps:
            rows = [_as_jet(r, shape) for r in step.apply(rows)]
        parts = np.array([r.parts for r in rows], dtype=object).reshape(len(rows), len(points), layout.size)
        processed.append(Dyadic.from_mpf(parts))
    activations = []
    for layer in progress.over(net.layers, "layer"):
        sources = [processed[s] for s, _ in layer.input_weights]
        sources += [activations[s] for s, _ in layer.layer_weights]
        activations.append(_activate(layer, net_inputs(layer, sources, layout, len(points)), layout))
    outputs = []
    for output in net.outputs:
        rows = [Jet(a) for a in activations[output.layer].to_mpf()]
        for step in reversed(output.steps):
            rows = [_as_jet(r, shape) for r in step.reverse(rows)]
        maps = output_maps.row_maps(net, output)
        parts = [r.parts for r in rows]
        if maps is not None:
            parts = [_mapped(expr, raw, row, layout) for expr, row in zip(maps, parts)]
        outputs.extend(parts)
    return np.array(outputs, dtype=object).reshape(len(outputs), len(points), layout.size)


@lru_cache(maxsize=64)
def _map_partials(expr, n_inputs, order):
    """An mpmath callable of (x_0, ..., y) giving [E, dE/dz (z = x_0, ..., y)] and, order 2,
    [d2E/dz dz'] of an output map E."""
    zs = output_maps.raw_input_symbols(n_inputs) + (output_maps.Y,)
    tables = [expr, [sp.diff(expr, z) for z in zs]]
    if order > 1:
        tables.append([[sp.diff(d, z) for z in zs] for d in tables[1]])
    return sp.lambdify([zs], _without_delta(tables), modules="mpmath")


def _mapped(expr, raw, row, layout):
    """u = E(x, y) with its derivatives, by the chain rule on the components of y (``row``,
    (points, components)); x_k's own derivatives are the unit vectors."""
    n = layout.n_inputs
    function = _map_partials(expr, n, layout.order)
    result = _zeros(row.shape)
    for point in range(row.shape[0]):
        y = row[point]
        tables = function([raw[k].parts[point, 0] for k in range(n)] + [y[0]])
        result[point, 0] = mpf_of(tables[0])
        if layout.order == 0:
            continue
        first = [mpf_of(v) for v in tables[1]]
        dy = [y[1 + k] for k in range(n)]
        for k in range(n):
            result[point, 1 + k] = first[k] + first[n] * dy[k]
        second = [[mpf_of(v) for v in line] for line in tables[2]] if layout.order > 1 else ()
        for index, (k, m) in enumerate(layout.pairs):
            result[point, 1 + n + index] = (
                second[k][m] + second[k][n] * dy[m] + second[m][n] * dy[k]
                + second[n][n] * dy[k] * dy[m] + first[n] * y[1 + n + index])
    return result


def net_inputs(layer, sources, layout, count):
    """n = b + sum W·a for every unit, point and component, exactly: a Dyadic (units, points,
    components) from the sources' Dyadic activations."""
    one = _zeros((1, count, layout.size))
    one[0, :, 0] = mpmath.mpf(1)   # what the bias multiplies: the constant 1
    stacked = Dyadic.concatenate(sources + [Dyadic.from_mpf(one)], axis=0)
    nets = affine(layer, stacked.reshape(stacked.shape[0], -1))
    return nets.reshape(layer.size, count, layout.size)


@lru_cache(maxsize=256)
def _transfer_functions(name, params, size, order):
    """An mpmath callable of a layer's ``size`` net inputs giving the transfer function's
    outputs, first partials and (order 2) second partials, from sympy's derivatives."""
    entry = lookup(name)
    ns = [sp.Symbol(f"n{j}", real=True) for j in range(size)]
    if entry.elementwise:
        outputs = [entry.reference_expression(n, params) for n in ns]
    else:
        outputs = list(entry.build(ns, **dict(params)))
    tables = [outputs, [[sp.diff(out, n) for n in ns] for out in outputs]]
    if order > 1:
        tables.append([[[sp.diff(d, n) for n in ns] for d in row] for row in tables[1]])
    return sp.lambdify([ns], _without_delta(tables), modules="mpmath")


@lru_cache(maxsize=64)
def _whole_layer_graph(name, params, size):
    ns = [sp.Symbol(f"n{j}", real=True) for j in range(size)]
    return list(lookup(name).build(ns, **dict(params))), ns


def whole_layer_tables(layer, values, order):
    """[outputs, first partials, second partials] of a function of the whole layer at one point:
    by forward mode over its expression graph (the cost of sympy's symbolic derivatives grows
    with the layer's width to the fourth), else by those derivatives."""
    outputs, ns = _whole_layer_graph(layer.transfer, layer.transfer_params, len(values))
    try:
        jets = jets_of(outputs, ns, values, order)
    except UnsupportedNode:
        return _transfer_functions(layer.transfer, layer.transfer_params, len(values), order)(values)
    tables = [[j.value for j in jets], [list(j.grad) for j in jets]]
    if order > 1:
        tables.append([[list(row) for row in j.hess] for j in jets])
    return tables


@lru_cache(maxsize=256)
def _elementwise_functions(name, params, order):
    """An mpmath callable of one net input n giving [f(n), f'(n)] (and f''(n), order 2) of
    an element-wise transfer function, its common subexpressions computed once (tanh(n)
    once rather than for each: most of the reference's time on a deep tanh network)."""
    n = sp.Symbol("n0", real=True)
    derivatives = [lookup(name).reference_expression(n, params)]
    while len(derivatives) <= order:
        derivatives.append(sp.diff(derivatives[-1], n))
    return sp.lambdify([n], _without_delta(derivatives), modules="mpmath", cse=True)


def _without_delta(nested):
    """Derivatives of |n| and of comparisons hold DiracDelta: zero away from the kink."""
    if isinstance(nested, list):
        return [_without_delta(x) for x in nested]
    return sp.sympify(nested).replace(sp.DiracDelta, lambda *args: sp.Integer(0))


def _activate(layer, nets, layout):
    """a = f(n) with its derivative components by the chain rule: a Dyadic (units, points,
    components) from the net inputs' one."""
    if lookup(layer.transfer).elementwise:
        return _activate_elementwise(layer, nets, layout)
    values = nets.to_mpf()
    by_point = [_activate_whole(layer, values[:, p, :], layout) for p in range(values.shape[1])]
    return Dyadic.from_mpf(np.array(by_point, dtype=object).transpose(1, 0, 2))


def _activate_elementwise(layer, nets, layout):
    """Per unit: a = f(n), a' = f'(n) n', a'' = f'(n) n'' + f''(n) n'_k n'_m, with f, f' and
    f'' rounded to the working precision and the products and sums exact."""
    tables = elementwise_tables(layer, nets[..., 0].to_mpf(), layout.order)
    value, slope, curvature = (Dyadic.from_mpf(tables[..., i:i + 1]) for i in range(3))
    grad = nets[..., layout.first]
    parts = [value, slope * grad]
    if layout.order > 1:
        ks, ms = (list(i) for i in zip(*layout.pairs))
        parts.append(slope * nets[..., layout.second] + curvature * grad[..., ks] * grad[..., ms])
    return Dyadic.concatenate(parts, axis=-1)


def elementwise_tables(layer, values, order):
    """[f(n), f'(n), f''(n)] of an element-wise layer at each net input of ``values`` (an
    object array of mpf), rounded to the working precision: an object array values.shape
    + (3,), f'' zero below ``order`` 2.  Refused where they leave the double range."""
    table = _elementwise_functions(layer.transfer, layer.transfer_params, max(order, 1))
    tables = np.empty(values.shape + (3,), dtype=object)
    try:
        for index, n in np.ndenumerate(values):
            results = table(n)
            tables[index] = [mpf_of(results[0]), mpf_of(results[1]),
                             mpf_of(results[2]) if order > 1 else mpmath.mpf(0)]
    except OverflowError:   # mpmath's exponent itself overflows (exp nested in exp)
        tables.fill(mpmath.inf)
    _require_double_range(layer, tables)
    return tables


#: the largest finite double: transfer-function values beyond it have no double to check against
_DOUBLE_MAX = mpmath.mpf(np.finfo(float).max)


def _require_double_range(layer, tables):
    """A transfer function whose value or derivatives leave the double range at the self-check
    points (exp nested in exp: 1e434294 at 30 digits) makes every test vector inf: refused."""
    worst = max((abs(v) for v in tables.reshape(-1)), default=0)
    if worst > _DOUBLE_MAX:
        raise UnsupportedError(f"layer {layer.name!r}: transfer function {layer.transfer!r} or its"
                               f" derivatives reach {mpmath.nstr(worst, 3)} inside the training range,"
                               " beyond the double range")


def _activate_whole(layer, nets, layout):
    """A function of the whole layer (softmax) at one point, in mpf: ``nets`` (units, components).
    a_j' = sum_i df_j/dn_i n_i', a_j'' = sum_i df_j/dn_i n_i'' + sum_il d2f_j/dn_i dn_l n_i'_k n_l'_m."""
    size = nets.shape[0]
    tables = whole_layer_tables(layer, list(nets[:, 0]), max(layout.order, 1))
    result = _zeros(nets.shape)
    result[:, 0] = [mpf_of(a) for a in tables[0]]
    jacobian = np.array(tables[1], dtype=object).reshape(size, size)
    grad = nets[:, layout.first]
    result[:, layout.first] = jacobian.dot(grad)
    if layout.order > 1:
        ks, ms = (list(i) for i in zip(*layout.pairs))
        products = grad[:, None, ks] * grad[None, :, ms]    # (i, l, pair)
        second = np.array(tables[2], dtype=object).reshape(size, size * size)
        result[:, layout.second] = (jacobian.dot(nets[:, layout.second])
                                    + second.dot(products.reshape(size * size, -1)))
    return result


#: how reference_numbers_of computes derivatives: "auto" picks the cheaper of the two
MODES = ("auto", "forward", "reverse")


def reference_numbers(net, what, points, digits=DIGITS, mode="auto"):
    """``what`` (value, gradient, jacobian or hessian) at each raw input in ``points``
    as mpf numbers computed with ``digits`` significant digits: an object array of
    shape (points,) + the derivative's shape.  Call inside ``mpmath.workdps(digits)``
    to use the numbers at that precision.  ``mode``: as for ``reference_numbers_of``."""
    return reference_numbers_of(net, (what,), points, digits, mode)[what]


def reference_numbers_of(net, whats, points, digits=DIGITS, mode="auto"):
    """{what: reference_numbers(net, what, points, digits)} for each of ``whats``, from
    one pass at the highest order they need (the value and the first derivatives sit at
    the same places in every layout).

    Args:
        mode: "forward" (this module: every order), "reverse"
            (symnet.reference.high_precision_reverse: values and first derivatives, at a cost that
            follows the output rows rather than the inputs) or "auto" (``chosen_mode``).
            Both give the same digits.
    """
    points = np.asarray(points, dtype=float).reshape(-1, net.n_inputs)
    layout = Layout(net.n_inputs, max(ORDER[what] for what in whats))
    mode = _checked_mode(net, whats, mode, len(points))
    with mpmath.workdps(digits):
        if mode == "reverse":
            from .high_precision_reverse import value_and_jacobian   # it builds on this module
            outputs = value_and_jacobian(net, points, _rows_needed(net, whats))
        else:
            outputs = forward(net, points, layout.order)
    by_point = outputs.transpose(1, 0, 2)          # (points, outputs, components)
    selected = {"value": lambda: by_point[:, :, 0], "gradient": lambda: by_point[:, 0, layout.first],
                "jacobian": lambda: by_point[:, :, layout.first],
                "hessian": lambda: _symmetric(by_point[:, :, layout.second], layout)}
    return {what: selected[what]() for what in whats}


#: the way back's own cost, above that of its columns (the limbs of the transposed weights,
#: a second pass over the layers), is about that of carrying this many more columns forward:
#: measured 20-30 on networks 512 units wide at 5 points (2-512x6-1 to 10-512x4-2)
REVERSE_PASS_COLUMNS = 25


def chosen_mode(net, whats, point_count):
    """The cheaper mode for ``whats`` at ``point_count`` points: forward mode carries 1 +
    n_inputs columns per point through every layer, reverse mode one per point forward (the
    value) and one per point back for each output row whose derivatives are asked for, at
    the fixed cost of a second pass.  Reverse where first derivatives are asked for, no
    Hessian, and the columns it saves outweigh that cost; forward otherwise."""
    order = max(ORDER[what] for what in whats)
    if output_maps.has_output_map(net):
        return "forward"   # the way back has no rule for an output map
    saved = (net.n_inputs - len(_rows_needed(net, whats))) * point_count
    return "reverse" if order == 1 and saved > REVERSE_PASS_COLUMNS else "forward"


def _rows_needed(net, whats):
    """The output rows whose derivatives ``whats`` read: the gradient is the first row's."""
    return list(range(net.n_outputs)) if "jacobian" in whats or "hessian" in whats else [0]


def _checked_mode(net, whats, mode, point_count):
    if mode not in MODES:
        raise ValueError(f"unknown reference mode {mode!r} (supported: {', '.join(MODES)})")
    if mode == "auto":
        return chosen_mode(net, whats, point_count)
    if mode == "reverse" and output_maps.has_output_map(net):
        return "forward"   # same digits; the way back has no rule for an output map
    if mode == "reverse" and "hessian" in whats:
        raise ValueError("the reverse-mode reference gives values and first derivatives; Hessians take mode 'forward'")
    return mode


def _symmetric(packed, layout):
    """(points, outputs, pairs) -> (points, outputs, n, n)."""
    n = layout.n_inputs
    full = np.empty(packed.shape[:2] + (n, n), dtype=object)
    for index, (k, m) in enumerate(layout.pairs):
        full[:, :, k, m] = full[:, :, m, k] = packed[:, :, index]
    return full


def reference_values(net, what, points, digits=DIGITS, mode="auto"):
    """``what`` (value, gradient, jacobian or hessian) at each raw input in ``points``,
    computed with ``digits`` significant digits and rounded to the nearest double;
    shape (points,) + the derivative's shape."""
    return reference_values_of(net, (what,), points, digits, mode)[what]


def reference_values_of(net, whats, points, digits=DIGITS, mode="auto"):
    """{what: reference_values(net, what, points, digits)} from one pass (``mode`` as for
    ``reference_numbers_of``)."""
    numbers = reference_numbers_of(net, whats, points, digits, mode)
    return {what: np.array([float(x) for x in values.reshape(-1)], dtype=float).reshape(values.shape)
            for what, values in numbers.items()}
