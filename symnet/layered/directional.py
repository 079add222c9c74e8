"""Layered derive stage for the derivatives along directions and their reductions
(symnet.ir.derivative_spec): each is one or a few sweeps of one vector per layer,
never the whole Jacobian or Hessian.

* ``jvp``  J·v: one forward tangent sweep seeded with v (an extra argument);
* ``vjp``  wᵀ·J: one reverse sweep seeded with w (an extra argument);
* ``hvp``  H_i·v: the tangent sweep in direction v, then the reverse sweep of every
  output with its tangent in that direction (forward-over-reverse);
* ``laplacian``  Σ_k ∂²y_i/∂x_k²: forward only, the tangents of every direction e_k and
  one more vector per layer, its Laplacian (``forward_laplacian``); through a softmax
  layer, forward-over-reverse in each direction e_k, each reverse tangent multiplied by
  the input weights' column k only (the diagonal);
* ``divergence``  Σ_k ∂y_k/∂x_k: one forward sweep per direction e_k, each read at row k;
* a partial derivative of order 1 (one sweep seeded with e_k, read at its output row)
  or 2: of a network of element-wise layers forward only, the tangents in directions e_k
  and e_m and one more vector per layer, its second derivative (``forward_laplacian``
  with the one pair (k, m)); else the reverse sweep of its output alone with its tangent
  in direction e_m, multiplied by the input weights' column k;
* a partial derivative of order 3 or 4 of a network of element-wise layers: forward
  Taylor ("jet") propagation, one vector per layer for each multi-index of input
  directions the partial needs (closed under sub-multisets), the activation's by Faa di
  Bruno's formula (``jets``); a whole-layer function (softmax, ...) has no such form.

A direction e_k is known when the code is generated: the first layer's tangent is a
column of its weights, folded like the Jacobian's constant tangents.
"""

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.utilities.iterables import multiset_partitions

from ..errors import UnsupportedError
from .expression import build_expression
from .network import A, D, N
from .steps import ADJOINT, VECTOR, Elementwise, Gather, Linear, Operand, Term

#: The highest order of a partial derivative the layered strategy builds (the unrolled one: any):
#: of a network of element-wise layers by jets, else (a function of the whole layer) WHOLE_LAYER_ORDER.
MAX_LAYERED_ORDER = 4
WHOLE_LAYER_ORDER = 2
#: The directions' extra arguments: the tangent direction v and the adjoint seed w.
DIRECTION, SEED = Operand("v", VECTOR), Operand("w", VECTOR)


def build(builder, spec):
    """(result operand, shape) of ``spec`` (a DerivativeSpec other than the whole arrays),
    its steps appended to ``builder`` (symnet.layered.schedule._Builder)."""
    net = builder.net
    if any(e is not None for e in net.output_maps):
        raise UnsupportedError(f"{spec.name} of a network with output maps is built by the unrolled strategy"
                               " only (--strategy unrolled)")
    highest = layered_order(net)
    if spec.kind in ("partial", "expression") and spec.order > highest:
        what = f"the partial derivative {spec.formula()}" if spec.kind == "partial" else spec.name
        raise UnsupportedError(f"{what} has order {spec.order}; the layered strategy builds partial derivatives"
                               f" up to order {highest} of this network (the unrolled one, any order)")
    sweeps = _Sweeps(builder, spec.name.upper())
    builder.forward(slopes=True, curvatures=spec.order > 1)
    if spec.kind == "expression":
        return build_expression(builder, sweeps, spec, _label)
    if spec.kind == "partial" and spec.order > 2:
        alpha = tuple(sorted(spec.inputs))
        terms = sweeps.read_row(spec.output, sweeps.jets([alpha])[alpha])
        return sweeps.linear("partial", VECTOR, 1, terms), spec.shape(net.n_inputs, net.n_outputs)
    shape = spec.shape(net.n_inputs, net.n_outputs)
    if spec.kind == "jvp":
        return sweeps.gather(sweeps.tangents(DIRECTION, "")[1], "jvp"), shape
    if spec.kind == "vjp":
        return sweeps.reverse(SEED, (), "vjp", None), shape
    if spec.kind == "hvp":
        directions = [("", sweeps.tangents(DIRECTION, ""), None)]
        return sweeps.reverse("all", directions, "hvp", ADJOINT), shape
    if spec.kind == "laplacian":
        if all(net.layers[index].form.elementwise for index in builder.varying):
            return sweeps.gather(sweeps.forward_laplacian(), "laplacian"), shape
        directions = [(f"_{k + 1}", sweeps.tangents(k, f"_{k + 1}"), k) for k in range(net.n_inputs)]
        return sweeps.reverse("all", directions, "laplacian", ADJOINT), shape
    if spec.kind == "divergence":
        terms = [term for k in range(net.n_inputs) for term in sweeps.read_row(k, sweeps.tangents(k, f"_{k + 1}")[1])]
        return sweeps.linear("divergence", VECTOR, 1, terms), shape
    if spec.order == 1:
        (k,) = spec.inputs
        terms = sweeps.read_row(spec.output, sweeps.tangents(k, f"_{k + 1}")[1])
        return sweeps.linear("partial", VECTOR, 1, terms), shape
    k, m = spec.inputs
    if all(net.layers[index].form.elementwise for index in builder.varying):
        # forward only: one sweep through each layer's weights with the value's
        return sweeps.linear("partial", VECTOR, 1, sweeps.read_row(spec.output, sweeps.forward_laplacian([(k, m)]))), \
            shape
    directions = [(f"_{m + 1}", sweeps.tangents(m, f"_{m + 1}"), k)]
    return sweeps.reverse(spec.output, directions, "partial", VECTOR), shape


def layered_order(net):
    """The highest order of the partial derivatives the layered strategy builds of ``net`` (a
    LayeredNetwork or the Network IR): MAX_LAYERED_ORDER where every layer is element-wise."""
    elementwise = all(layer.form.elementwise if hasattr(layer, "form") else layer.transfer_function.elementwise
                      for layer in net.layers)
    return MAX_LAYERED_ORDER if elementwise else WHOLE_LAYER_ORDER


def closure(multi_indices):
    """Every non-empty sub-multiset of the multi-indices (sorted tuples of input indices),
    shortest first: the jets a forward Taylor sweep needs for them."""
    needed = set()
    for alpha in multi_indices:
        for mask in range(1, 1 << len(alpha)):
            needed.add(tuple(alpha[i] for i in range(len(alpha)) if mask >> i & 1))
    return sorted(needed, key=lambda alpha: (len(alpha), alpha))


@lru_cache(maxsize=None)
def _derivatives(form, order):
    """(f'', ..., f^(order)) of an element-wise ActivationForm in the symbols N, A (= f(N)) and
    D (= f'(N)), as sympy gives them: each the total derivative of the one before,
    d/dN + f'·d/dA + f''·d/dD (the curvature is the registry's)."""
    found = [sp.sympify(form.curvature)]
    while len(found) < order - 1:
        last = found[-1]
        total = sp.diff(last, N) + sp.diff(last, A) * D + sp.diff(last, D) * found[0]
        # |n| in the guarded forms: the derivative of sign(n) is zero where it exists, and
        # sign(n)**2 is 1 (its limit at n = 0, where the function is smooth)
        total = total.replace(lambda e: isinstance(e, sp.DiracDelta), lambda *args: sp.Integer(0))
        found.append(total.replace(lambda e: e.is_Pow and isinstance(e.base, sp.sign) and e.exp.is_Integer,
                                   lambda e: e.base if e.exp % 2 else sp.Integer(1)))
    return tuple(found)


class _Sweeps:
    """The sweeps of one direction each, on a schedule._Builder; ``tag`` keeps the names of
    this program's folded constants apart from those of the other derivatives of a file."""

    def __init__(self, builder, tag):
        self.b, self.tag = builder, tag

    def linear(self, name, axes, size, terms):
        out = self.b.variable(name, axes, size)
        self.b.steps.append(Linear(out, size, None, tuple(terms)))
        return out

    def tangents(self, seed, suffix):
        """({layer: dn/dx·s}, {layer: da/dx·s}) of every varying layer for the direction s: the
        DIRECTION argument, or e_k for an input index k (folded while it is a constant)."""
        b, net = self.b, self.b.net
        tangent_net, tangent = {}, {}
        for index in b.varying:
            layer, number = net.layers[index], index + 1
            constant, terms = None, []
            if layer.input_weights is not None:
                if isinstance(seed, Operand):
                    terms.append(Term(b.weights(index, "x", layer.input_weights), seed, net.n_inputs, False))
                else:
                    constant = np.array(layer.input_weights[:, seed], dtype=float)
            for source, matrix in layer.layer_weights:
                source_tangent = tangent.get(source)
                if source_tangent is None:
                    continue
                if source_tangent.constant:
                    constant = _plus(constant, matrix @ b.constants[source_tangent.name])
                else:
                    terms.append(Term(b.weights(index, source, matrix), source_tangent, net.layers[source].size,
                                      False))
            tn = b.combine(f"vn{number}{suffix}", f"VN{number}{suffix}_{self.tag}", constant, terms, VECTOR,
                           layer.size)
            if tn is not None:
                tangent_net[index] = tn
                tangent[index] = b.scale(f"va{number}{suffix}", tn, index, VECTOR, forward=True)
        return tangent_net, tangent

    def forward_laplacian(self, pairs=None):
        """{layer: Σ over ``pairs`` (k, m) of ∂²a/∂x_k∂x_m} of the varying layers (absent: zero),
        by default every (k, k) (the Laplacian), forward only: with the tangents t_k = ∂n/∂x_k
        of the directions e_k the pairs name, the net input's second derivative is the
        product of the weights with the sources' (the inputs' is zero) and the activation's
        f'(n)·s + f''(n)·Σ t_k·t_m.  One sweep per direction and one more, every one through
        the same weights as the value's (symnet.layered.pairing puts them side by side),
        where the Hessian runs the value, the tangents and the reverse sweep apart.

        Where every tangent a layer's sum Σ t_k·t_m reads is a constant (the first layer's,
        a column of its weights), the sum is one constant vector Q, computed exactly and
        rounded once (``exact_pair_sum``), and the term is f''(n)·Q.  Where moreover the
        layer has no net-input Laplacian, is no output, and only layers of
        ``_foldable_readers`` read it, Q is folded into their weights (W·diag(Q), each
        entry rounded once), which then read f''(n) itself: a one-hidden-layer network's
        Laplacian is Σ_j (W_j·Q_j)·f''(n_j), no per-unit product stored."""
        b, net = self.b, self.b.net
        pairs = tuple((k, k) for k in range(net.n_inputs)) if pairs is None else tuple(pairs)
        directions = {k: self.tangents(k, f"_{k + 1}")[0] for k in sorted({k for pair in pairs for k in pair})}
        laplacian, folded = {}, {}   # folded: {layer: (Q, f''(n))}, its Laplacian f''(n)·Q never stored
        slope, curvature, net_laplacian = (sp.Symbol(name, real=True) for name in ("D", "C", "L"))
        foldable = _foldable_readers(net)
        for index in b.varying:
            layer, number = net.layers[index], index + 1
            terms = []
            for source, matrix in layer.layer_weights:
                if source in folded:
                    q, source_curvature = folded[source]
                    name = b.constant(f"W{number}_{source + 1}_{self.tag}", exact_column_scale(matrix, q),
                                      ("w",)).name
                    terms.append(Term(name, source_curvature, net.layers[source].size, False))
                elif source in laplacian:
                    terms.append(Term(b.weights(index, source, matrix), laplacian[source], net.layers[source].size,
                                      False))
            ln = self.linear(f"ln{number}", VECTOR, layer.size, terms) if terms else None
            if layer.form.identity:
                if ln is not None:
                    laplacian[index] = ln
                continue
            expression, arguments = sp.Integer(0), []
            if ln is not None:
                expression += slope * net_laplacian
                arguments += [(slope, b.slope[index]), (net_laplacian, ln)]
            symbols = {k: sp.Symbol(f"T{k}", real=True) for k, tangent_net in directions.items()
                       if index in tangent_net}
            products = [(k, m) for k, m in pairs if k in symbols and m in symbols]
            if index in b.curvature and products:
                used = sorted({k for pair in products for k in pair})
                if all(directions[k][index].constant for k in used):
                    q = exact_pair_sum([b.constants[directions[k][index].name] for k in used],
                                       [(used.index(k), used.index(m)) for k, m in products])
                    if ln is None and index in foldable and index not in b.seeds():
                        folded[index] = (q, b.curvature[index])
                        continue
                    constant_sum = sp.Symbol("Q", real=True)
                    expression += curvature * constant_sum
                    arguments += [(curvature, b.curvature[index]),
                                  (constant_sum, b.constant(f"Q{number}_{self.tag}", q))]
                else:
                    expression += curvature * sp.Add(*(symbols[k] * symbols[m] for k, m in products))
                    arguments += [(curvature, b.curvature[index])]
                    arguments += [(symbols[k], directions[k][index]) for k in sorted(symbols)]
            if expression != 0:
                out = b.variable(f"la{number}", VECTOR, layer.size)
                b.steps.append(Elementwise(((out, expression),), layer.size, tuple(arguments)))
                laplacian[index] = out
        return laplacian

    def jets(self, multi_indices):
        """{α: {layer: ∂^|α| a/∂x_α}} for every α of ``closure(multi_indices)``, forward only
        (a layer where the jet is zero absent).  A net input's jet of order 2 or more is the
        product of the weights with the sources' (the inputs' is zero); an activation's is
        Faa di Bruno's sum over the set partitions P of α's positions of f^(|P|)(n)·Π_B∈P n_B,
        for order 3:  f'·n_kmp + f''·(n_km n_p + n_kp n_m + n_mp n_k) + f3·n_k n_m n_p.
        The jets of order 1 are the tangents of the directions e_k (``tangents``)."""
        b, net = self.b, self.b.net
        alphas = closure(multi_indices)
        firsts = {alpha[0]: self.tangents(alpha[0], f"_{alpha[0] + 1}") for alpha in alphas if len(alpha) == 1}
        net_jet = {(k,): tangents[0] for k, tangents in firsts.items()}
        jet = {(k,): tangents[1] for k, tangents in firsts.items()}
        higher = [alpha for alpha in alphas if len(alpha) > 1]
        for alpha in higher:
            net_jet[alpha], jet[alpha] = {}, {}
        for index in b.varying:
            layer, number = net.layers[index], index + 1
            for alpha in higher:
                terms = [Term(b.weights(index, source, matrix), jet[alpha][source], net.layers[source].size, False)
                         for source, matrix in layer.layer_weights if source in jet[alpha]]
                if terms:
                    net_jet[alpha][index] = self.linear(f"jn{number}_{_label(alpha)}", VECTOR, layer.size, terms)
            if not higher:
                continue
            if layer.form.identity:
                for alpha in higher:
                    if index in net_jet[alpha]:
                        jet[alpha][index] = net_jet[alpha][index]
                continue
            self._activation_jets(index, higher, net_jet, jet)
        return jet

    def _activation_jets(self, index, higher, net_jet, jet):
        """The jets of layer ``index``'s activation of the multi-indices ``higher`` (order 2
        or more) from its net input's, in one element-wise step (Faa di Bruno)."""
        from .schedule import _elementwise
        b, layer, number = self.b, self.b.net.layers[index], index + 1
        derivatives = (D,) + _derivatives(layer.form, max(map(len, higher)))
        assignments, bound = [], {N: b.net_input[index], A: b.activation[index], D: b.slope[index]}
        for alpha in higher:
            symbols, total = {}, sp.Integer(0)
            for partition in multiset_partitions(list(range(len(alpha)))):
                blocks = [tuple(alpha[i] for i in block) for block in partition]
                if not all(index in net_jet[block] for block in blocks):
                    continue
                for block in blocks:
                    symbols.setdefault(block, sp.Symbol(f"J{_label(block)}", real=True))
                total += derivatives[len(blocks) - 1] * sp.Mul(*(symbols[block] for block in blocks))
            if total == 0:
                continue
            out = b.variable(f"ja{number}_{_label(alpha)}", VECTOR, layer.size)
            jet[alpha][index] = out
            assignments.append((out, total))
            bound.update({symbols[block]: net_jet[block][index] for block in symbols})
        if assignments:
            b.steps.append(_elementwise(tuple(assignments), layer.size, bound, f"j{number}_"))

    def gather(self, tangent, name):
        """The raw outputs' tangents: each output row from its layer's tangent."""
        b, net = self.b, self.b.net
        out = b.variable(name, VECTOR, net.n_outputs)
        blocks, fill = [], [(row, 0.0) for row, _ in net.constant_rows]
        for number, block in enumerate(net.outputs, start=1):
            if block.layer not in tangent:
                fill += [(row, 0.0) for row in block.rows]
                continue
            scale = None if np.all(block.scale == 1.0) else b.constant(f"Y{number}_SCALE", block.scale).name
            blocks.append((tangent[block.layer], block.rows, block.units, scale, None))
        b.steps.append(Gather(out, net.n_outputs, tuple(blocks), tuple(sorted(fill)), False))
        return out

    def read_row(self, row, tangent):
        """Terms reading output ``row`` from the layers' tangents (scaled as the output is)."""
        terms = []
        for index, seed in self.b.seeds().items():
            if index in tangent and np.any(seed[row]):
                name = self.b.constant(f"Y{row + 1}_OF_{index + 1}", seed[row:row + 1], ("w",)).name
                terms.append(Term(name, tangent[index], self.b.net.layers[index].size, False))
        return terms

    def seeded(self, seed, axes):
        """{layer: [constant, terms]}: the adjoints dy/da the outputs start the reverse sweep
        with, of every output ("all"), one output row, or wᵀ (the SEED argument)."""
        pending = {index: [None, []] for index in self.b.varying}
        for index, matrix in self.b.seeds().items():
            if seed == "all":
                pending[index][0] = matrix
            elif isinstance(seed, Operand):
                name = self.b.constant(f"S{index + 1}_{self.tag}", matrix, ("w",)).name
                pending[index][1].append(Term(name, seed, self.b.net.n_outputs, True))
            elif np.any(matrix[seed]):
                pending[index][0] = np.array(matrix[seed], dtype=float)
        return pending

    def reverse(self, seed, directions, name, axes):
        """The reverse sweep from ``seed`` (see ``seeded``); without directions its product with
        the input weights (a VJP), else for each (suffix, tangents, column) its tangent along
        the direction, multiplied by the input weights (column None) or by one column of them."""
        b, net = self.b, self.b.net
        adjoint_axes = ADJOINT if seed == "all" else VECTOR
        pending = self.seeded(seed, adjoint_axes)
        pending_tangent = {suffix: {index: [] for index in b.varying} for suffix, _, _ in directions}
        first, closing = [], []
        for index in reversed(b.varying):
            layer, number = net.layers[index], index + 1
            g = b.combine(f"g{number}", f"G{number}_{self.tag}", *pending[index], adjoint_axes, layer.size)
            if g is None:
                continue
            gn = b.scale(f"gn{number}", g, index, adjoint_axes)
            for source, matrix in layer.layer_weights:
                if source in pending:
                    b.accumulate(pending[source], gn, index, source, matrix)
            if layer.input_weights is not None and not directions:
                first.append(self.product(index, "x", layer.input_weights, gn, layer.size))
            for suffix, (tangent_net, tangent), column in directions:
                gt = b.combine(f"gt{number}{suffix}", None, None, pending_tangent[suffix][index], axes, layer.size)
                gnt = self.second_order(index, g, gt, tangent_net, tangent, f"gnt{number}{suffix}", axes)
                if gnt is None:
                    continue
                for source, matrix in layer.layer_weights:
                    if source in pending_tangent[suffix]:
                        pending_tangent[suffix][source].append(Term(b.weights(index, source, matrix), gnt,
                                                                    layer.size, True))
                if layer.input_weights is not None:
                    weights = layer.input_weights if column is None else layer.input_weights[:, column:column + 1]
                    label = "x" if column is None else f"x_{column + 1}"
                    closing.append(self.product(index, label, weights, gnt, layer.size))
        if not directions:
            return self.linear(name, VECTOR, net.n_inputs, first)
        size = net.n_inputs if all(column is None for _, _, column in directions) else 1
        return self.linear(name, axes, size, closing)

    def product(self, index, label, weights, source, size):
        """Term source · weights, the weights folded into a constant named after layer and label."""
        name = self.b.constant(f"W{index + 1}_{label}", weights, ("w",)).name
        if source.constant:
            raise AssertionError("a constant adjoint reached the input weights of a directional sweep")
        return Term(name, source, size, True)

    def second_order(self, index, g, gt, tangent_net, tangent, name, axes):
        """The tangent of the adjoint dy/dn along one direction (schedule._Builder.second_order,
        with that direction's tangents)."""
        b = self.b
        if index in tangent_net:
            return b.second_order(index, g, gt, (tangent_net[index], tangent.get(index)), name, axes)
        if b.net.layers[index].form.identity or gt is None:
            return gt
        return b.scale(name, gt, index, axes)   # the direction does not reach this layer's net input


#: Veltkamp's constant 2^27 + 1: splits a double into two halves whose products are exact
_SPLIT = 134217729.0
#: Magnitudes (besides zero) for which Dekker's product below is exact: no split or partial
#: product overflows, and none of its error terms falls below the normal range
_EXACT_PRODUCTS = (2.0 ** -450, 2.0 ** 450)


def _two_products(a, b):
    """Element-wise a·b = p + e exactly (Dekker): p the rounded product, e its error."""
    p = a * b
    high_a, high_b = _SPLIT * a - (_SPLIT * a - a), _SPLIT * b - (_SPLIT * b - b)
    low_a, low_b = a - high_a, b - high_b
    return p, ((high_a * high_b - p) + high_a * low_b + low_a * high_b) + low_a * low_b


def exact_pair_sum(tangents, pairs):
    """Σ over ``pairs`` (i, j) of tangents[i]·tangents[j] element by element, summed exactly
    and rounded once to double: each product split exactly into two doubles (Dekker), their
    sum correctly rounded by ``math.fsum``; as rationals where a magnitude is outside the
    range where that split is exact."""
    vectors = np.array([np.ravel(np.asarray(t, dtype=float)) for t in tangents])
    magnitudes = np.abs(vectors[vectors != 0])
    if magnitudes.size and (magnitudes.min() < _EXACT_PRODUCTS[0] or magnitudes.max() > _EXACT_PRODUCTS[1]):
        return _rational_pair_sum(vectors, pairs)
    first, second = (vectors[[pair[side] for pair in pairs]] for side in (0, 1))
    products, errors = _two_products(first, second)
    terms = np.concatenate([products, errors]).T.tolist()
    return np.array([math.fsum(unit) for unit in terms])


def _rational_pair_sum(vectors, pairs):
    fractions = [[Fraction(value) for value in vector] for vector in vectors.tolist()]
    return np.array([float(sum(fractions[i][u] * fractions[j][u] for i, j in pairs))
                     for u in range(vectors.shape[1])])


def exact_column_scale(matrix, scale):
    """matrix·diag(scale), each entry the exact product rounded once (as IEEE multiplication
    rounds it)."""
    return np.asarray(matrix, dtype=float) * np.asarray(scale, dtype=float)[np.newaxis, :]


def _foldable_readers(net):
    """The layers every reader of which has the identity as activation and is read by no
    layer: such a reader's value and tangents take no part in a forward Laplacian, so
    weights with a constant folded in cost no pass that the value's product would share."""
    readers = {}
    for index, layer in enumerate(net.layers):
        for source, _ in layer.layer_weights:
            readers.setdefault(source, []).append(index)
    return {source for source, indices in readers.items()
            if all(net.layers[i].form.identity and i not in readers for i in indices)}


def _label(alpha):
    """The part of a jet's name naming its multi-index (1-based, ``_`` between inputs)."""
    return "_".join(str(k + 1) for k in alpha)


def _plus(total, value):
    return value if total is None else total + value
