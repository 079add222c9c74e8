"""How large the unrolled form of a network would be, predicted from its shape
alone, and the refusal of one too large to build in reasonable time.

The unrolled strategy (symbolic -> derive -> simplify -> printers) spends its
time in proportion to the arithmetic operations of the straight-line
derivative program before CSE: every stage walks each of them once or a few
times.  That count follows from the layer sizes, the connections and the
transfer functions: a layer's net input adds one product per weight; its
tangents add, per raw input the source depends on, one product per weight
(first-layer tangents are constants: the input steps are affine); the Hessian's
second tangents add one per weight and pair of inputs (k <= m).  The walk below
counts those per layer in closed form, so estimating takes well under a
millisecond even for 20-256-256-10.

Calibration (``python benchmarks/unrolled_size.py``; a shared 2-core machine
under load, so the times vary by up to 2x from run to run): against sympy's
``count_ops`` of the unsimplified program the estimate was 0.77x to 1.07x on tanh,
logsig, poslin, softplus, softmax-output and cascade MLPs from 3-10-1 to
10-50-50-5, value to Hessian; on 30 random networks mixing every transfer function,
several inputs and outputs and cascades it stayed within 0.5x to 2.2x
(piecewise-linear Hessians are overestimated).  The time to build, simplify and
print one target (C) grows a little faster than the operations (sympy's CSE):
SECONDS_PER_OPERATION at small sizes, doubled at SECONDS_DOUBLE_EVERY, a
function of the whole layer's operations weighted WHOLE_LAYER_TIME_WEIGHT.  The
estimated seconds were 0.60x to 1.48x of the measured ones on those MLPs
(5-20-20-3 Hessian: 22.8 s estimated, 23 s measured; 2-64-64-64-1 Jacobian: 67 s,
85 s; 10-50-50-5 Jacobian: 96 s, 82 s).  A whole ``generate`` with every target
prints each program five times: 5-20-20-3 value, Jacobian and Hessian (34,132)
took 62 s for C alone and 162 s for all targets under load.
The closed-form estimate was within 1.0x to 1.3x of the measured node count on
the MLPs above.

Partial derivatives of order 3 and more and user expressions are built by
differentiating the forward program once per input (``_along_cost`` has the
closed form; each differentiation grows by a factor that follows the transfer
function's curvature, ``_growth``).  Against the built programs
(``python benchmarks/unrolled_size.py --orders``: 3-10-1, 2-8-8-1 and 2-12-12-12-1
tanh, 3-5-4-2 logistic, 2-6-6-1 softplus, ELU, ReLU and swish, orders 3 and 4, and
r = y_x2 + y*y_x1 - 0.1*y_x1x1 with its gradient and Hessian; an expression reading
order 4 of a 3-6-6-3 tanh-logistic network, whose gradient needs order 5; the
Navier-Stokes momentum residual of a 3-6-6-3 swish PINN, whose Hessian needs order
4) the operations were 0.73x to 1.95x of the measured ones: the order-5 gradient
1.74x (60,638 against 34,753), the swish residual's Hessian 0.75x (412,561 against
553,181; 0.34x before the growth followed the curvature), the expressions'
gradients overestimated most.  Their time follows the program's assignments more
than its operations: SECONDS_ALONG per operation over ALONG_OFFSET plus the
curvature's operations (a swish program packs many operations into each
assignment), plus SECONDS_PER_PROGRAM.  The estimated seconds were 0.5x to 2.8x of
the measured ones (the order-5 gradient 22 s against 14 s, 75 s before; the swish
Hessian 34 s against 28 s, 187 s before), except for the first swish programs a
process builds (0.31x and 0.38x: about 2 s of sympy differentiating swish's
expressions once).
"""

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from ..errors import SizeLimitError
from ..ir.derivative_spec import WHOLE, spec_of

#: Most estimated operations (all requested derivatives together) built without
#: ``allow_large``: about a minute of build, simplify and print (see above).  It
#: passes 5-20-20-3 up to the Hessian (34,132) and 2-64-64-64-1's Jacobian (54,025),
#: and refuses 2-64-64-64-1's Hessian (107,596) and 20-256-256-10's Jacobian (3 million).
UNROLLED_OPERATION_LIMIT = 60_000

#: Rough seconds per estimated operation of a whole array for build, simplify and print (see
#: above), at small sizes; the time per operation grows with the operations, doubled at
#: SECONDS_DOUBLE_EVERY, tripled at twice that (sympy's CSE is superlinear).
SECONDS_PER_OPERATION = 6e-4
SECONDS_DOUBLE_EVERY = 50_000
#: The weight in the time of the operations of a function of the whole layer (softmax):
#: its partials repeat the same quotients, which CSE removes (4-8-3's Hessian: 87% of it).
WHOLE_LAYER_TIME_WEIGHT = 0.2

#: Seconds per estimated operation of a repeated differentiation (``_along_seconds``):
#: SECONDS_ALONG / (ALONG_OFFSET + the curvature's operations), the mean over the curved
#: layers.  Its time follows the program's assignments, not its operations: a transfer
#: function whose derivatives sympy writes as long expressions of n (swish) packs many
#: operations into each.
SECONDS_ALONG = 2.3e-3
ALONG_OFFSET = 3.3
#: ... and where no layer is curved (piecewise-linear transfer functions: short programs).
SECONDS_ALONG_FLAT = 2.5e-4
#: ... and the fixed seconds of each such program (sympy's differentiation of the transfer
#: functions' expressions, which small programs are made of).
SECONDS_PER_PROGRAM = 0.3

#: The option that builds a large unrolled form anyway.
INSIST_FLAG = "--allow-large-unrolled"


@dataclass(frozen=True)
class UnrolledSize:
    """The predicted size of the unrolled form of some derivatives of a network.

    Attributes:
        operations: arithmetic operations of the straight-line programs before CSE.
        seconds: rough time to build, simplify and print them (within the factors above).
        closed_form: expression-tree nodes of each derivative's closed form (every
            intermediate substituted), ``{what: nodes}``.
    """

    operations: int
    closed_form: dict
    seconds: float = 0.0   # rough time to build, simplify and print it (SECONDS_PER_OPERATION, SECONDS_ALONG)


def estimate(net, derivatives):
    """The size of the unrolled form of ``derivatives`` (names from symnet.unrolled.derive.DERIVATIVES,
    or of the derivative spec: a directional, reduced or low-order partial derivative estimated as
    the whole array it is built from, a bound; a partial of order 3 or more and a user expression's
    value, gradient or Hessian by the repeated differentiation that builds it, ``_along_cost``)."""
    walk = _Walk(net)
    operations, closed_form, seconds = 0, {}, 0.0
    for what in derivatives:
        repeated = _repeated_differentiation(what)
        if repeated is None:
            count = walk.operations(_whole(what))
            closed_form[what] = int(walk.closed_form(_whole(what)))
            whole_layer = walk.operations(_whole(what), walk.whole_layer)
            seconds += _whole_seconds(count - (1 - WHOLE_LAYER_TIME_WEIGHT) * whole_layer)
        else:
            count = _along_cost(walk, *repeated)
            closed_form[what] = int(count)   # no CSE to undo: each entry is a program of its own
            seconds += count * _along_seconds(walk) + SECONDS_PER_PROGRAM
        operations += count
    return UnrolledSize(int(operations), closed_form, seconds)


def _whole_seconds(operations):
    """Seconds to build, simplify and print a whole array of ``operations`` (see above)."""
    return operations * SECONDS_PER_OPERATION * (1 + operations / SECONDS_DOUBLE_EVERY)


def _along_seconds(walk):
    """Seconds per estimated operation of the network's repeated differentiation (SECONDS_ALONG)."""
    curved = [ops for ops in map(_curvature_ops, walk.net.layers) if ops is not None]
    if not curved:
        return SECONDS_ALONG_FLAT
    return SECONDS_ALONG / (ALONG_OFFSET + sum(curved) / len(curved))


def _whole(what):
    """The whole array a derivative of the spec is built from (the Jacobian or the Hessian)."""
    if what in WHOLE:
        return what
    return "jacobian" if spec_of(what).order == 1 else "hessian"


def _repeated_differentiation(what):
    """(input sequences differentiated along, whole derivative of the result: "value", "gradient"
    or "hessian") of a derivative built by differentiating the forward program once per input
    (symnet.unrolled.derive._along): a partial of order 3 or more, a user expression (each
    quantity it reads one sequence, symnet.unrolled.expression); None for the others."""
    if what in WHOLE:
        return None
    spec = spec_of(what)
    if spec.kind == "partial" and spec.order >= 3:
        return (tuple(spec.inputs),), "value"
    if spec.kind == "expression":
        return tuple(tuple(q.inputs) for q in spec.user.quantities), spec.what
    return None


#: How much larger each further differentiation along one input is than the one before:
#: GROWTH_BASE + GROWTH_PER_CURVATURE_OPERATION x the operations of the transfer function's
#: curvature as written (benchmarks/unrolled_size.py --orders, order 3 to 5 of 2-6-6-1
#: MLPs: tanh 2.7x to 3.0x, curvature 3 operations; ELU 2.8x to 3.2x, 4; softplus 3.5x to
#: 4.0x, 9; GELU 3.4x, 16; swish 4.8x to 5.3x, 25), the mean over the curved layers;
#: GROWTH_PER_ORDER for a function of the whole layer.
GROWTH_BASE = 2.6
GROWTH_PER_CURVATURE_OPERATION = 0.1
GROWTH_PER_ORDER = 3.0


def _curvature_ops(layer):
    """The operations of an element-wise layer's curvature as written; None where it adds no
    growth of its own (the identity, f'' = 0), GROWTH_PER_ORDER's equivalent for a function
    of the whole layer."""
    if not layer.transfer_function.elementwise:
        return (GROWTH_PER_ORDER - GROWTH_BASE) / GROWTH_PER_CURVATURE_OPERATION
    cost = _unit_cost(layer.transfer, layer.transfer_params)
    if cost.identity or (cost.curvature_nodes == 1 and cost.curvature_ops == 0):
        return None
    return cost.curvature_ops


def _growth(walk):
    """The growth per order of the network's repeated differentiation: 1 where every second
    derivative is zero (piecewise-linear transfer functions), else GROWTH_BASE +
    GROWTH_PER_CURVATURE_OPERATION x the mean curvature operations of the curved layers."""
    if all(shape.zero_second for _, shape in walk.outputs):
        return 1.0
    curved = [ops for ops in map(_curvature_ops, walk.net.layers) if ops is not None]
    if not curved:
        return GROWTH_PER_ORDER
    return GROWTH_BASE + GROWTH_PER_CURVATURE_OPERATION * sum(curved) / len(curved)


def _along_cost(walk, sequences, whole):
    """Operations of the forward program differentiated along each input sequence in
    ``sequences`` (sequences sharing a prefix share its program, symnet.unrolled.expression),
    then the whole ``whole`` derivative of the result.

    The closed form: differentiating the forward program along one input adds T = J / n
    operations (the Jacobian's per input, from the walk); each further differentiation
    differentiates every earlier one too and adds g times the one before
    (``_growth``: 1 where the transfer functions are piecewise linear), so a prefix of
    length d adds T·g^(d-1), and a partial of order p has V + T·(1 + g + ... + g^(p-1)).  The
    gradient of the result differentiates each prefix's operations once more along every input,
    J·Σ g^d over the prefixes (the empty one included); the Hessian then H·Σ g^d, times g / 3
    where g is over GROWTH_PER_ORDER."""
    counts, n_in = walk.counts, max(walk.net.n_inputs, 1)
    growth = _growth(walk)
    per_input = counts["jacobian"] / n_in
    prefixes = {sequence[:d] for sequence in sequences for d in range(1, len(sequence) + 1)}
    operations = counts["value"] + sum(per_input * growth ** (len(prefix) - 1) for prefix in prefixes)
    depths = sum(growth ** len(prefix) for prefix in prefixes | {()})
    if whole in ("gradient", "hessian"):
        operations += counts["jacobian"] * depths
    if whole == "hessian":
        # the second differentiation grows the expressions of the faster-growing transfer
        # functions once more (swish: 0.5x of the measured Hessian without it)
        operations += counts["hessian"] * depths * max(1.0, growth / GROWTH_PER_ORDER)
    return operations


def require_unrolled_fits(net, derivatives, allow_large=False, limit=None, layered_alternative=False):
    """Raise SizeLimitError, before anything is built, when the unrolled form of
    ``derivatives`` is estimated above ``limit`` (UNROLLED_OPERATION_LIMIT) and
    ``allow_large`` is false; the message advises the layered strategy where
    ``layered_alternative`` (the caller knows both stages, this one only its own), and says
    why not where it is a string (the reason). Returns the estimate."""
    size = estimate(net, derivatives)
    limit = UNROLLED_OPERATION_LIMIT if limit is None else limit
    if size.operations > limit and not allow_large:
        layered = "the layered strategy (--strategy layered), or " if layered_alternative is True else ""
        why_not = f" ({layered_alternative})" if isinstance(layered_alternative, str) else ""
        raise SizeLimitError(
            f"the unrolled form of the {_listed(derivatives)} would have about {rounded(size.operations):,}"
            f" operations (about {_duration(size.seconds)} to generate), more than the limit of {limit:,}:"
            f" use {layered}{INSIST_FLAG} (allow_large_unrolled=True) to build it anyway{why_not}")
    return size


def _listed(names, most=5):
    """The names in words; past ``most``, the first few and how many more (a line stays short)."""
    names = list(names)
    if len(names) > most:
        return ", ".join(names[:most - 2]) + f" and {len(names) - most + 2} more derivatives"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def rounded(count):
    """``count`` to two significant digits: what an estimate can tell."""
    return int(float(f"{count:.2g}"))


def _duration(seconds):
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.0f} h"


@dataclass(frozen=True)
class _Shape:
    """A unit of one vector of the forward program (every unit of a layer alike).

    deps: raw inputs it depends on (reach: the network inputs they belong to); value,
    tangent, second: closed-form nodes of the unit, of one tangent and of one second
    tangent; constant_tangent, zero_second: its first derivatives are
    numbers, its second derivatives are all zero (affine steps, piecewise-linear
    transfer functions)."""

    deps: int
    reach: frozenset
    value: float
    tangent: float = 1.0
    second: float = 1.0
    constant_tangent: bool = True
    zero_second: bool = True


class _Walk:
    """One pass over the layers, input to output, counting per layer in closed form."""

    def __init__(self, net):
        self.net = net
        self.counts = {"value": 0.0, "jacobian": 0.0, "hessian": 0.0}
        self.whole_layer = {"value": 0.0, "jacobian": 0.0, "hessian": 0.0}   # of counts, softmax's partials
        processed = [self._input(index, inp) for index, inp in enumerate(net.inputs)]
        self.layers = []
        for layer in net.layers:
            self.layers.append(self._layer(layer, processed))
        self.outputs = [self._output(output) for output in net.outputs]

    def operations(self, what, counts=None):
        order = {"value": ("value",), "gradient": ("value", "jacobian"),
                 "jacobian": ("value", "jacobian"), "hessian": ("value", "jacobian", "hessian")}[what]
        return sum((counts or self.counts)[part] for part in order)

    def closed_form(self, what):
        n_in = self.net.n_inputs
        per_output = {"value": lambda s: s.value, "gradient": lambda s: n_in * s.tangent,
                      "jacobian": lambda s: n_in * s.tangent, "hessian": lambda s: n_in * n_in * s.second}[what]
        return sum(units * per_output(shape) for units, shape in self.outputs)

    def _input(self, index, inp):
        nodes = 1 + sum(4 if step.kind == "affine" else 6 for step in inp.steps if step.kind != "removeconstantrows")
        self.counts["value"] += inp.size * 2 * len(inp.steps)
        return inp.processed_size, _Shape(1, frozenset([index]), nodes)

    def _layer(self, layer, processed):
        sources = [processed[s] for s, _ in layer.input_weights] + [self.layers[s] for s, _ in layer.layer_weights]
        size, fanins = layer.size, [w.shape[1] for _, w in layer.input_weights + layer.layer_weights]
        reach = frozenset().union(*(shape.reach for _, shape in sources))
        deps = sum(self.net.inputs[i].size for i in reach)
        pairs = deps * (deps + 1) / 2
        n = self._net_input(size, sources, fanins, reach, deps)
        entry = layer.transfer_function
        if not entry.elementwise:
            return size, self._whole_layer(size, n, deps, pairs, entry.shift_invariant)
        cost = _unit_cost(layer.transfer, layer.transfer_params)
        if cost.identity:
            return size, n
        return size, self._elementwise(size, n, cost, deps, pairs)

    def _net_input(self, size, sources, fanins, reach, deps):
        """Counts n = b + sum w*v; its shape.  Tangents from layer sources cost one product per
        weight and input; input sources only add constants."""
        counts = self.counts
        counts["value"] += size * 2 * sum(fanins)
        value = tangent = second = 2.0
        constant = zero = True
        for fanin, (units, shape) in zip(fanins, sources):
            value += fanin * (2 + shape.value)
            if not shape.constant_tangent:
                constant = False
                counts["jacobian"] += size * 2 * fanin * shape.deps
                tangent += fanin * (2 + shape.tangent)
            if not shape.zero_second:
                zero = False
                counts["hessian"] += size * 2 * fanin * shape.deps * (shape.deps + 1) / 2
                second += fanin * (2 + shape.second)
        return _Shape(deps, reach, value, 1.0 if constant else tangent, 1.0 if zero else second,
                      constant_tangent=constant, zero_second=zero)

    def _elementwise(self, size, n, cost, deps, pairs):
        """a = f(n), g = f'(n) as their own quantities; da_k = g*dn_k; d2a = dg*dn + g*d2n."""
        counts = self.counts
        counts["value"] += size * (cost.value_ops + cost.slope_ops)
        counts["jacobian"] += size * deps * (2 + cost.curvature_ops)
        flat = cost.curvature_nodes == 1 and cost.curvature_ops == 0   # f'' = 0
        if not flat:
            counts["hessian"] += size * pairs * (4 + cost.curvature_ops)
        elif not n.zero_second:
            counts["hessian"] += size * pairs * 2
        value = cost.value_nodes + cost.value_n * (n.value - 1)
        slope = cost.slope_nodes + cost.slope_n * (n.value - 1) + cost.slope_a * (value - 1)
        curvature = (cost.curvature_nodes + cost.curvature_n * (n.value - 1) + cost.curvature_a * (value - 1)
                     + cost.curvature_g * (slope - 1))
        slope_tangent = 1 + curvature + n.tangent
        tangent = 1 + slope + n.tangent
        second = (2 + slope_tangent if n.constant_tangent
                  else 3 + n.tangent + slope_tangent + slope + n.second)
        if flat:
            second = 1.0 if n.zero_second else 2 + slope + n.second
        return _Shape(deps, n.reach, value, tangent, second, constant_tangent=False,
                      zero_second=flat and n.zero_second)

    def _whole_layer(self, size, n, deps, pairs, shift_invariant):
        """Softmax: a_j = exp(n_j - m)/sum_i exp(n_i - m), m = max(n): each unit has
        ``size`` partials, each a product of two such quotients.  One unit alone is the
        constant 1 (shift-invariant).  rms_norm, n_j over a root of a sum of squares, is
        counted alike."""
        if size == 1 and shift_invariant:
            return _Shape(deps, n.reach, 1.0)
        partial = 3 * size + 5
        if n.constant_tangent:   # d2a = sum of f'' dn dn only
            hessian = size * pairs * size * size * (partial + 2)
        else:
            hessian = size * pairs * size * (size * (2 * partial + 4) + partial + 2)
        added = {"value": size * (3 * size + 2), "jacobian": size * deps * size * (partial + 2), "hessian": hessian}
        for part, count in added.items():
            self.counts[part] += count
            self.whole_layer[part] += count
        value = (size + 1) ** 2 * n.value + 6 * (size + 1)
        tangent = size * (1.5 * value + n.tangent + 2)
        second = size * (size * (3 * value + 2 * n.tangent) + 1.5 * value + n.second)
        return _Shape(deps, n.reach, value, tangent, second, constant_tangent=False, zero_second=False)

    def _output(self, output):
        units, shape = self.layers[output.layer]
        steps = len(output.steps)
        self.counts["value"] += units * 3 * steps
        self.counts["jacobian"] += units * shape.deps * steps
        self.counts["hessian"] += units * shape.deps * (shape.deps + 1) / 2 * steps
        grow = 6 * steps
        return units, _Shape(shape.deps, shape.reach, shape.value + grow, shape.tangent + 2 * steps,
                             shape.second + 2 * steps, zero_second=shape.zero_second)


@dataclass(frozen=True)
class _UnitCost:
    """Operations and tree nodes of one element-wise transfer function, with how often
    n, a = f(n) and g = f'(n) occur in f, f' and f'' (to substitute subtree sizes)."""

    identity: bool
    value_ops: int
    slope_ops: int
    curvature_ops: int
    value_nodes: int
    value_n: int
    slope_nodes: int
    slope_n: int
    slope_a: int
    curvature_nodes: int
    curvature_n: int
    curvature_a: int
    curvature_g: int


@lru_cache(maxsize=64)
def _unit_cost(transfer, params):
    """Measured once per transfer function and parameters on a single symbol (milliseconds)."""
    from ..ir.transfer import lookup
    entry = lookup(transfer)
    n, a, g = (sp.Symbol(name, real=True) for name in ("n", "a", "g"))
    value = sp.sympify(entry.expression(n, params))
    slope = sp.sympify(entry.derivative(n, a, params))
    curvature = sp.sympify(entry.curvature(n, a, g, params)) if not slope.is_Number else sp.Integer(0)

    def nodes(expr):
        return list(sp.preorder_traversal(expr))

    v, s, c = nodes(value), nodes(slope), nodes(curvature)
    return _UnitCost(value == n, int(sp.count_ops(value)), int(sp.count_ops(slope)), int(sp.count_ops(curvature)),
                     len(v), v.count(n), len(s), s.count(n), s.count(a), len(c), c.count(n), c.count(a), c.count(g))

