"""High-precision reference values: value, gradient, Jacobian and Hessian of a
Network computed straight from the IR in mpmath arithmetic, by second-order
forward mode (each quantity carries its gradient and Hessian with respect
to the raw inputs).

This path shares nothing with the symbolic, derive, simplify and emit
stages except the processing steps' own ``apply``/``reverse`` and each
transfer function's sympy formula (its textbook form where the registry
keeps a numerically safe rewriting), differentiated here by sympy.  Its cost
is linear in the number of weights, so it serves large networks too.
"""

from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from .transfer import lookup

DIGITS = 30


class Jet:
    """A value with its gradient (list) and Hessian (list of lists, or None: first order only)."""

    __slots__ = ("value", "grad", "hess")
    __array_ufunc__ = None   # numpy scalars defer to Jet's reflected operators


    def __init__(self, value, grad, hess):
        self.value, self.grad, self.hess = value, grad, hess

    @classmethod
    def constant(cls, value, n, order):
        zero = mpmath.mpf(0)
        return cls(_mpf(value), [zero] * n, [[zero] * n for _ in range(n)] if order > 1 else None)

    @classmethod
    def variable(cls, value, k, n, order):
        jet = cls.constant(value, n, order)
        jet.grad[k] = mpmath.mpf(1)
        return jet

    def _like(self, value):
        return value if isinstance(value, Jet) else Jet.constant(value, len(self.grad), 2 if self.hess else 1)

    def __add__(self, other):
        return combine(_mpf(0), [(1, self), (1, self._like(other))])

    __radd__ = __add__

    def __sub__(self, other):
        return combine(_mpf(0), [(1, self), (-1, self._like(other))])

    def __rsub__(self, other):
        return combine(_mpf(0), [(-1, self), (1, self._like(other))])

    def __neg__(self):
        return combine(_mpf(0), [(-1, self)])

    def __mul__(self, other):
        if isinstance(other, Jet):
            return apply_function([self, other], lambda u, v: u * v, [other.value, self.value],
                                  [[0, 1], [1, 0]])
        return combine(_mpf(0), [(other, self)])

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, Jet):
            return self * apply_function([other], lambda v: 1 / v, [-1 / other.value**2],
                                         [[2 / other.value**3]])
        return combine(_mpf(0), [(1 / _mpf(other), self)])


def _mpf(value):
    return value if isinstance(value, mpmath.mpf) else mpmath.mpf(float(value))


def combine(offset, terms):
    """offset + sum of weight * jet over ``terms`` ((weight, Jet), ...)."""
    first = terms[0][1]
    n = len(first.grad)
    value = _mpf(offset)
    grad = [mpmath.mpf(0)] * n
    hess = [[mpmath.mpf(0)] * n for _ in range(n)] if first.hess is not None else None
    for weight, jet in terms:
        weight = _mpf(weight)
        value += weight * jet.value
        grad = [g + weight * d for g, d in zip(grad, jet.grad)]
        if hess is not None:
            hess = [[h + weight * e for h, e in zip(row, other)] for row, other in zip(hess, jet.hess)]
    return Jet(value, grad, hess)


def apply_function(arguments, value, first, second):
    """f(arguments) as a Jet, given f's value (a callable of the argument values or a
    number), its partials ``first[i]`` and second partials ``second[i][l]``."""
    values = [a.value for a in arguments]
    result = value(*values) if callable(value) else value
    n = len(arguments[0].grad)
    grad = [sum((first[i] * a.grad[k] for i, a in enumerate(arguments)), mpmath.mpf(0)) for k in range(n)]
    if arguments[0].hess is None:
        return Jet(result, grad, None)
    hess = [[mpmath.mpf(0)] * n for _ in range(n)]
    for k in range(n):
        for m in range(k, n):
            total = sum((first[i] * a.hess[k][m] for i, a in enumerate(arguments)), mpmath.mpf(0))
            for i, a in enumerate(arguments):
                for l, b in enumerate(arguments):
                    if second[i][l]:
                        total += second[i][l] * a.grad[k] * b.grad[m]
            hess[k][m] = hess[m][k] = total
    return Jet(result, grad, hess)


@lru_cache(maxsize=256)
def _transfer_functions(name, params, size):
    """mpmath callables (outputs, first partials, second partials) of a layer's
    transfer function of ``size`` net inputs."""
    entry = lookup(name)
    ns = [sp.Symbol(f"n{j}", real=True) for j in range(size)]
    if entry.elementwise:
        outputs = [entry.reference_expression(n, params) for n in ns]
    else:
        outputs = list(entry.build(ns, **dict(params)))
    first = [[sp.diff(out, n) for n in ns] for out in outputs]
    second = [[[sp.diff(d, n) for n in ns] for d in row] for row in first]
    # Derivatives of |n| and of comparisons hold DiracDelta: zero away from the kink.
    tables = [[_no_delta(e) for e in outputs], [[_no_delta(e) for e in row] for row in first],
              [[[_no_delta(e) for e in row] for row in block] for block in second]]
    return sp.lambdify([ns], tables, modules="mpmath")


def _no_delta(expr):
    return sp.sympify(expr).replace(sp.DiracDelta, lambda *args: sp.Integer(0))


def _activate(layer, nets):
    if lookup(layer.transfer).elementwise:
        return [_elementwise(layer, n) for n in nets]
    table = _transfer_functions(layer.transfer, layer.transfer_params, len(nets))
    outputs, first, second = table([n.value for n in nets])
    return [apply_function(nets, outputs[j], first[j], second[j]) for j in range(len(nets))]


def _elementwise(layer, n):
    outputs, first, second = _transfer_functions(layer.transfer, layer.transfer_params, 1)([n.value])
    return apply_function([n], outputs[0], first[0], second[0])


def forward(net, x, order=2):
    """The raw outputs of ``net`` at one raw input ``x``, as Jets of ``order`` 1 or 2."""
    n = net.n_inputs
    raw = [Jet.variable(v, k, n, order) for k, v in enumerate(x)]
    processed, start = [], 0
    for inp in net.inputs:
        rows = raw[start:start + inp.size]
        start += inp.size
        for step in inp.steps:
            rows = [_as_jet(r, n, order) for r in step.apply(rows)]
        processed.append(rows)
    activations = []
    for layer in net.layers:
        nets = []
        for j in range(layer.size):
            terms = [(w[j, k], processed[s][k]) for s, w in layer.input_weights for k in range(w.shape[1])]
            terms += [(w[j, k], activations[s][k]) for s, w in layer.layer_weights for k in range(w.shape[1])]
            nets.append(combine(layer.bias[j], terms) if terms else Jet.constant(layer.bias[j], n, order))
        activations.append(_activate(layer, nets))
    outputs = []
    for output in net.outputs:
        rows = activations[output.layer]
        for step in reversed(output.steps):
            rows = [_as_jet(r, n, order) for r in step.reverse(rows)]
        outputs.extend(rows)
    return outputs


def _as_jet(row, n, order):
    return row if isinstance(row, Jet) else Jet.constant(row, n, order)


def reference_values(net, what, points, digits=DIGITS):
    """``what`` (value, gradient, jacobian or hessian) at each raw input in ``points``,
    computed with ``digits`` significant digits and rounded to the nearest double;
    shape (points,) + the derivative's shape."""
    results = []
    with mpmath.workdps(digits):
        for point in np.asarray(points, dtype=float):
            outputs = forward(net, point, order=2 if what == "hessian" else 1)
            results.append(_select(what, outputs))
    return np.array(results, dtype=float)


def _select(what, outputs):
    if what == "value":
        return [float(y.value) for y in outputs]
    if what == "gradient":
        return [float(g) for g in outputs[0].grad]
    if what == "jacobian":
        return [[float(g) for g in y.grad] for y in outputs]
    return [[[float(h) for h in row] for row in y.hess] for y in outputs]
