"""Value, gradient and Hessian of sympy expressions at one point, in mpmath, by
second-order forward mode over the expression graph.

sympy's own derivatives of a function of a whole layer grow with the layer:
softmax's second derivatives over 20 units took 72 s and 495 MB to build and
lambdify, over 40 units 21 minutes.  Here each node of the graph (after sympy's
``cse``, so a shared sum is one node) is evaluated once, carrying its gradient
and Hessian with respect to the symbols, so the cost follows the graph's size
times the number of derivative components.  Only the one-argument functions
are differentiated by sympy, each once, on a symbol of its own.
"""

from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp


class UnsupportedNode(ValueError):
    """The graph holds a node this forward mode has no rule for."""


class Jet:
    """A value with its gradient (n,) and, for order 2, its Hessian (n, n), object arrays of mpf."""

    def __init__(self, value, grad, hess):
        self.value, self.grad, self.hess = value, grad, hess

    @classmethod
    def constant(cls, value, size, order):
        return cls(mpmath.mpf(value), _zeros((size,)), _zeros((size, size)) if order > 1 else None)

    @classmethod
    def variable(cls, value, index, size, order):
        jet = cls.constant(value, size, order)
        jet.grad[index] = mpmath.mpf(1)
        return jet

    def __add__(self, other):
        hess = None if self.hess is None else self.hess + other.hess
        return Jet(self.value + other.value, self.grad + other.grad, hess)

    def __mul__(self, other):
        grad = self.grad * other.value + other.grad * self.value
        hess = None
        if self.hess is not None:
            cross = np.outer(self.grad, other.grad)
            hess = self.hess * other.value + other.hess * self.value + cross + cross.T
        return Jet(self.value * other.value, grad, hess)

    def through(self, f, slope, curvature):
        """f(self) by the chain rule, given f, f' and f'' at self's value."""
        hess = None
        if self.hess is not None:
            hess = self.hess * slope + np.outer(self.grad, self.grad) * curvature
        return Jet(f, self.grad * slope, hess)


def _zeros(shape):
    result = np.empty(shape, dtype=object)
    result.fill(mpmath.mpf(0))
    return result


_U = sp.Dummy("u", real=True)


@lru_cache(maxsize=None)
def _univariate(function, exponent=None):
    """mpmath callables of f, f' and f'' for a one-argument function (or a power with a fixed exponent)."""
    f = _U ** exponent if function is sp.Pow else function(_U)
    forms = [f, sp.diff(f, _U), sp.diff(f, _U, 2)]
    return [sp.lambdify(_U, form, modules="mpmath") for form in forms]


def evaluate(expressions, symbols, point, order=2):
    """Jets of ``expressions`` at ``symbols`` = ``point`` (numbers), at mpmath's working precision.

    Raises UnsupportedNode for a node without a rule (the caller falls back to sympy's derivatives).
    """
    size = len(symbols)
    known = {s: Jet.variable(v, i, size, order) for i, (s, v) in enumerate(zip(symbols, point))}
    replacements, reduced = sp.cse(list(expressions))
    for symbol, expression in replacements:
        known[symbol] = _node(expression, known, size, order)
    return [_node(expression, known, size, order) for expression in reduced]


def _node(expression, known, size, order):
    if expression in known:
        return known[expression]
    if expression.is_number:
        return Jet.constant(mpmath.mpf(sp.N(expression, mpmath.mp.dps + 5)), size, order)
    args = [_node(arg, known, size, order) for arg in expression.args]
    if isinstance(expression, sp.Add):
        result = args[0]
        for arg in args[1:]:
            result = result + arg
    elif isinstance(expression, sp.Mul):
        result = args[0]
        for arg in args[1:]:
            result = result * arg
    elif isinstance(expression, sp.Pow) and expression.exp.is_number:
        result = _apply(_univariate(sp.Pow, expression.exp), args[0])
    elif isinstance(expression, sp.Function) and len(args) == 1:
        result = _apply(_univariate(expression.func), args[0])
    else:
        raise UnsupportedNode(f"no forward-mode rule for {type(expression).__name__}")
    known[expression] = result
    return result


def _apply(forms, jet):
    f, slope, curvature = (mpmath.mpf(form(jet.value)) for form in forms)
    return jet.through(f, slope, curvature)
