"""Layered stage: the functions of a whole layer (softmax, rms_norm) stated once, as the
generic Reduction steps every target prints (symnet.layered.steps).

A whole-layer transfer a = f(n) is written here beside the registry's sympy definition
(symnet.ir.transfer), per layer of ``size`` units, as

    scalars   s_i = Σ_u e_i or max_u e_i, or one expression of earlier scalars, per point;
    value     a_u in N (the unit's net input) and the scalars; the derivatives also read
              ``auxiliaries``, per-unit arrays of scalars the forward pass stores;
    Jacobian  J = diag(alpha) + beta gammaᵀ, alpha, beta, gamma per-unit expressions in
              A (the value), N and the auxiliaries.

Tangents (dn -> da) are alpha∘dn + beta Σ_u(gamma∘dn), adjoints (da -> dn) the transposed
alpha∘g + gamma Σ_u(beta∘g).  The Hessian's term (the tangent of an adjoint, forward
over reverse) is derived here with sympy from alpha, beta and gamma: their tangents are
∂/∂A·da + ∂/∂N·dn + ∂/∂P·dP per auxiliary P, and dP = Σ_u kappa∘dn with kappa derived
from the scalars the auxiliary is made of.  A new whole-layer transfer is one more entry
of FORMS; no target needs code for it.
"""

import functools
from dataclasses import dataclass

import sympy as sp

from ..ir import transfer as transfer_registry

#: Per-element symbols: net input, value, and the element of an array a derivative step reads.
N = transfer_registry.elementwise_symbol()
A = sp.Symbol("a", real=True)
SOURCE = sp.Symbol("src", real=True)          # a tangent dn (forward) or an adjoint dy/da (reverse)
TANGENT_N = sp.Symbol("tn", real=True)        # dn/dx of the layer, one input direction
TANGENT_A = sp.Symbol("ta", real=True)        # da/dx of the layer
ADJOINT = sp.Symbol("g", real=True)           # dy/da of the layer
ADJOINT_TANGENT = sp.Symbol("gt", real=True)  # d/dx (dy/da)

SUM, MAX, ONCE = "sum", "max", "once"


@dataclass(frozen=True)
class WholeLayerForm:
    """One whole-layer transfer on a layer of ``size`` units (see the module doc).

    ``scalars``: ((Symbol, SUM or MAX or ONCE, expression), ...) in order; a MAX scalar
    only shifts (the value does not depend on it: its derivatives are taken with it held).
    ``auxiliaries``: ((Symbol, expression of the scalars), ...), stored per unit.
    ``parameters`` (eps) stay symbols while sympy solves and simplifies (a float there
    leaves rounding residue such as 1 - 1.7e-18·x²); ``numeric`` puts their values in.
    """

    name: str
    size: int
    scalars: tuple
    value: sp.Expr
    auxiliaries: tuple
    alpha: sp.Expr
    beta: sp.Expr
    gamma: sp.Expr
    parameters: tuple = ()     # ((Symbol, value), ...): kept symbolic while deriving

    def numeric(self, expression):
        """``expression`` with the parameters' values (floats) in place of their symbols."""
        return sp.sympify(expression).xreplace({symbol: sp.Float(value) for symbol, value in self.parameters})

    def kappa(self, auxiliary):
        """d auxiliary = Σ_u kappa∘dn: the chain rule through the scalars, then the sums
        written in the auxiliaries (each auxiliary a one-to-one function of one sum)."""
        definitions = {symbol: (operator, expression) for symbol, operator, expression in self.scalars}
        derivative = _expanded(_scalar_derivative(dict(self.auxiliaries)[auxiliary], definitions), definitions)
        for symbol, expression in self.auxiliaries:
            expanded = _expanded(expression, definitions)
            for scalar in sorted(expanded.free_symbols & derivative.free_symbols & definitions.keys(),
                                 key=sp.default_sort_key):
                derivative = derivative.subs(scalar, sp.solve(sp.Eq(symbol, expanded), scalar)[0])
        derivative = sp.powsimp(sp.simplify(derivative), force=True)
        if derivative.free_symbols & definitions.keys():
            raise AssertionError(f"{self.name}: d{auxiliary} not written in the auxiliaries: {derivative}")
        return derivative


def _expanded(expression, definitions):
    """``expression`` with every ONCE scalar replaced by its definition."""
    once = {symbol: _expanded(inner, definitions) for symbol, (operator, inner) in definitions.items()
            if operator == ONCE and symbol in expression.free_symbols}
    return expression.xreplace(once) if once else expression


def _scalar_derivative(expression, definitions):
    """∂expression/∂n_u through the scalars (a SUM scalar Σ e contributes ∂e/∂N; a MAX
    scalar is held; an ONCE scalar is expanded)."""
    total = sp.diff(expression, N)
    for symbol in expression.free_symbols & definitions.keys():
        operator, inner = definitions[symbol]
        if operator == MAX:
            continue
        inner_derivative = sp.diff(inner, N) if operator == SUM else _scalar_derivative(inner, definitions)
        total += sp.diff(expression, symbol) * inner_derivative
    return total


def softmax_form(size):
    """exp(n - max n)/Σ exp(n - max n): the same value without overflow; J = diag(a) - a aᵀ."""
    top, total = sp.Symbol("top", real=True), sp.Symbol("total", positive=True)
    shifted = sp.exp(N - top)
    return WholeLayerForm("softmax", size, ((top, MAX, N), (total, SUM, shifted)), shifted / total, (),
                          alpha=A, beta=-A, gamma=A)


def rms_norm_form(size, eps=1e-5):
    """n/r, r = sqrt(mean(n²) + eps), as the registry writes it; J = diag(1/r) - (a/(size r)) aᵀ,
    1/r stored per unit as ``inv_rms``."""
    sum_squares, radius = sp.Symbol("sum_squares", nonnegative=True), sp.Symbol("radius", positive=True)
    inverse, epsilon = sp.Symbol("inv_rms", positive=True), sp.Symbol("eps", positive=True)
    scalars = ((sum_squares, SUM, N**2), (radius, ONCE, sp.sqrt(sum_squares / size + epsilon)))
    return WholeLayerForm("rms_norm", size, scalars, N / radius, ((inverse, 1 / radius),),
                          alpha=inverse, beta=-A * inverse / size, gamma=A, parameters=((epsilon, eps),))


#: The layered form of each whole-layer transfer: (size, **params) -> WholeLayerForm.
FORMS = {"softmax": softmax_form, "rms_norm": rms_norm_form}


def whole_layer_form(name, size, params=()):
    return FORMS[name](size, **dict(params))


# --- the derivative steps, derived once -------------------------------------------

def _across(index):
    return sp.Symbol(f"across{index}", real=True)


def tangent(form):
    """(scalars, expression) of da = J·dn, the source element SOURCE = dn."""
    across = _across(0)
    return _numeric(form, ((across, SUM, form.gamma * SOURCE),), form.alpha * SOURCE + form.beta * across)


def adjoint(form):
    """(scalars, expression) of dy/dn = Jᵀ·(dy/da), the source element SOURCE = dy/da."""
    across = _across(0)
    return _numeric(form, ((across, SUM, form.beta * SOURCE),), form.alpha * SOURCE + form.gamma * across)


@functools.lru_cache(maxsize=None)   # sympy's solve and simplify take a few tenths of a second
def second_order(form, with_adjoint_tangent):
    """(scalars, expression) of d/dx (Jᵀ g) = Jᵀ gt + (dJ)ᵀ g for the Hessian: with
    d alpha = ∂alpha/∂A·ta + ∂alpha/∂N·tn + Σ ∂alpha/∂P·dP (and so for beta and gamma),
    dP = Σ_u kappa∘tn a scalar per auxiliary P."""
    scalars, moved = [], {}
    for number, (auxiliary, _) in enumerate(form.auxiliaries):
        moved[auxiliary] = sp.Symbol(f"d_{auxiliary.name}", real=True)
        scalars.append((moved[auxiliary], SUM, form.kappa(auxiliary) * TANGENT_N))

    def tangent_of(expression):
        total = sp.diff(expression, A) * TANGENT_A + sp.diff(expression, N) * TANGENT_N
        return total + sum((sp.diff(expression, p) * d for p, d in moved.items()), sp.Integer(0))

    through_beta, beta_moved = _across(0), _across(1)
    scalars += [(through_beta, SUM, form.beta * ADJOINT), (beta_moved, SUM, tangent_of(form.beta) * ADJOINT)]
    value = tangent_of(form.alpha) * ADJOINT + tangent_of(form.gamma) * through_beta + form.gamma * beta_moved
    if with_adjoint_tangent:
        beta_tangent = _across(2)
        scalars.append((beta_tangent, SUM, form.beta * ADJOINT_TANGENT))
        value += form.alpha * ADJOINT_TANGENT + form.gamma * beta_tangent
    return _numeric(form, *_without_zero_scalars(tuple(scalars), value))


def _numeric(form, scalars, value):
    """(scalars, value) with the form's parameters put in (symnet.layered.whole_layer.WholeLayerForm.numeric)."""
    return tuple((s, o, form.numeric(e)) for s, o, e in scalars), form.numeric(value)


def _without_zero_scalars(scalars, value):
    """The scalars a nonzero term reads (a zero sum replaced by 0), in order."""
    zero = {symbol: 0 for symbol, operator, expression in scalars if operator == SUM and sp.sympify(expression) == 0}
    value = value.subs(zero)
    kept = [(s, o, e.subs(zero)) for s, o, e in scalars if s not in zero]
    read, needed = set(value.free_symbols), []
    for symbol, operator, expression in reversed(kept):
        if symbol in read:
            needed.append((symbol, operator, expression))
            read |= expression.free_symbols
    return tuple(reversed(needed)), value
