"""Derive stage: gradient, Jacobian and Hessian by the chain rule on the
straight-line program (forward accumulation).

Every intermediate symbol v gets one tangent symbol per raw input,
dv/dx_k = sum over the symbols u in v's expression of (∂v/∂u)·(du/dx_k),
so the derivative program grows linearly with depth.  The Hessian
differentiates the tangent assignments once more, only for m >= k
(it is symmetric).
"""

import sympy as sp

from ..ir.derivative_spec import spec_of
from .expression import expression_program
from .program import Assignment, Block, Program

DERIVATIVES = ("value", "gradient", "jacobian", "hessian")


#: The derivatives of the spec (symnet.ir.derivative_spec) beyond DERIVATIVES that the unrolled
#: form builds, besides the partial derivatives.
UNROLLED_REDUCED = ("jvp", "vjp", "hvp", "laplacian", "divergence")


def unrolled_builds(what):
    """True when the unrolled form builds the derivative ``what`` (a canonical name)."""
    spec = spec_of(what)
    return what in DERIVATIVES or spec.kind in UNROLLED_REDUCED + ("partial", "expression")


def derivative_program(forward: Program, what: str) -> Program:
    """A Program whose single block is ``what`` (one of DERIVATIVES, or a Laplacian,
    divergence or partial derivative of the derivative spec, or a user expression's value,
    gradient or Hessian: symnet.unrolled.expression)."""
    if spec_of(what).kind == "expression":
        return expression_program(forward, spec_of(what), derivative_program)
    if what not in DERIVATIVES:
        return _reduced_program(forward, spec_of(what))
    values = forward.block("value").entries
    if what == "value":
        return forward
    if what == "gradient" and len(values) != 1:
        raise ValueError(f"the gradient needs a single-output network; this one has {len(values)} outputs")
    tangents = _Tangents(forward)
    n_in, n_out = len(forward.inputs), len(values)
    if what in ("gradient", "jacobian"):
        entries = tuple(tangents.of(e, k) for e in values for k in range(n_in))
        shape = (n_in,) if what == "gradient" else (n_out, n_in)
        return Program(forward.inputs, tangents.assignments(), (Block(what, shape, entries),))
    second = _SecondTangents(tangents)
    entries = []
    for e in values:
        first = [tangents.of(e, k) for k in range(n_in)]
        rows = [[None] * n_in for _ in range(n_in)]
        for k in range(n_in):
            for m in range(k, n_in):
                rows[k][m] = rows[m][k] = second.of(first[k], k, m)
        entries.extend(entry for row in rows for entry in row)
    return Program(forward.inputs, second.assignments(), (Block("hessian", (n_out, n_in, n_in), tuple(entries)),))


def _partials(assignment, known):
    """(u, ∂target/∂u) for each symbol u of the expression that carries a tangent, in name order."""
    stated = dict(assignment.partials)
    symbols = sorted((s for s in assignment.expr.free_symbols if s in known), key=sp.default_sort_key)
    return [(u, stated[u] if u in stated else _without_impulses(sp.diff(assignment.expr, u))) for u in symbols]


def _without_impulses(derivative):
    """The derivative with sympy's DiracDelta terms dropped: they come from the |n| of the
    numerically safe rewritings (exp(-|n|) of swish, softplus) differentiated a third time
    and more, are zero wherever n != 0, and no target can print them."""
    if not derivative.has(sp.DiracDelta):
        return derivative
    return derivative.replace(sp.DiracDelta, lambda *arguments: sp.Integer(0))


def _chain(partials, tangent_of):
    terms = []
    for u, partial in partials:
        du = tangent_of(u)
        if du != 0 and partial != 0:
            terms.append(partial * du)
    return sp.Add(*terms)


class _Tangents:
    """First derivatives dv/dx_k of every symbol of the forward program."""

    def __init__(self, forward):
        self.forward = forward
        self.new = []
        self.index_of = {}
        self.tangent = {x: [sp.Integer(int(j == k)) for k in range(len(forward.inputs))]
                        for j, x in enumerate(forward.inputs)}
        for assignment in forward.assignments:
            partials = _partials(assignment, self.tangent)
            self.tangent[assignment.target] = [
                self._assign(f"d{assignment.target}_{k}", _chain(partials, lambda u: self.tangent[u][k]), k)
                for k in range(len(forward.inputs))]

    def _assign(self, name, expr, k):
        if expr.is_Symbol or expr.is_Number:
            return expr
        target = sp.Symbol(name, real=True)
        self.new.append(Assignment(target, expr))
        self.index_of[target] = k
        return target

    def of(self, expr, k):
        """d expr / dx_k for an expression of forward symbols."""
        expr = sp.sympify(expr)
        if expr in self.tangent:
            return self.tangent[expr][k]
        partials = _partials(Assignment(sp.Dummy(), expr), self.tangent)
        return _chain(partials, lambda u: self.tangent[u][k])

    def assignments(self):
        return tuple(self.forward.assignments) + tuple(self.new)


class _SecondTangents:
    """d²v/dx_k dx_m (m >= k) for the tangent symbols of index k."""

    def __init__(self, first):
        self.first = first
        self.new = []
        self.second = {}
        for assignment in first.new:
            k = first.index_of[assignment.target]
            partials = _partials(assignment, self._known())
            for m in range(k, len(first.forward.inputs)):
                value = _chain(partials, lambda u: self._tangent(u, m))
                self.second[(assignment.target, m)] = self._assign(f"{assignment.target}_{m}", value)

    def _known(self):
        return _KnownSymbols(self.first)

    def _tangent(self, u, m):
        if u in self.first.tangent:
            return self.first.tangent[u][m]
        return self.second[(u, m)]

    def _assign(self, name, expr):
        if expr.is_Symbol or expr.is_Number:
            return expr
        target = sp.Symbol(name, real=True)
        self.new.append(Assignment(target, expr))
        return target

    def of(self, first_derivative, k, m):
        """d/dx_m of an expression of forward symbols and index-k tangent symbols."""
        expr = sp.sympify(first_derivative)
        if (expr, m) in self.second:
            return self.second[(expr, m)]
        if expr in self.first.tangent:
            return self.first.tangent[expr][m]
        partials = _partials(Assignment(sp.Dummy(), expr), self._known())
        return _chain(partials, lambda u: self._tangent(u, m))

    def assignments(self):
        return self.first.assignments() + tuple(self.new)


class _KnownSymbols:
    """Membership test: symbols that carry a tangent (forward symbols and tangent symbols)."""

    def __init__(self, first):
        self.first = first

    def __contains__(self, symbol):
        return symbol in self.first.tangent or symbol in self.first.index_of


def _reduced_program(forward, spec):
    """The Laplacian (the Hessian's diagonal summed), the divergence (the Jacobian's) or one
    partial derivative (differentiated once per input, in order) as a one-block Program;
    what the block does not read is removed by the simplify stage."""
    n_in = len(forward.inputs)
    if spec.kind == "laplacian":
        hessian = derivative_program(forward, "hessian")
        entries = hessian.blocks[0].as_array()
        sums = tuple(sp.Add(*(entries[i, k, k] for k in range(n_in))) for i in range(entries.shape[0]))
        return Program(forward.inputs, hessian.assignments, (Block(spec.name, (len(sums),), sums),))
    if spec.kind == "divergence":
        jacobian = derivative_program(forward, "jacobian")
        entries = jacobian.blocks[0].as_array()
        total = sp.Add(*(entries[k, k] for k in range(n_in)))
        return Program(forward.inputs, jacobian.assignments, (Block(spec.name, (1,), (total,)),))
    if spec.kind in ("jvp", "vjp", "hvp"):
        return _contracted(forward, spec)
    if spec.kind != "partial":
        raise ValueError(f"unknown derivative {spec.name!r}")
    assignments = tuple(forward.assignments)
    entry = sp.sympify(forward.block("value").entries[spec.output])
    for step, k in enumerate(spec.inputs):
        new, tangent = _along(assignments, forward.inputs, k, f"p{step}")
        entry = _chain(_partials(Assignment(sp.Dummy(), entry), tangent), lambda u: tangent[u])
        assignments += new
    return Program(forward.inputs, assignments, (Block(spec.name, (1,), (entry,)),))


def argument_symbols(name, count):
    """The symbols of an extra argument's entries: v_0, v_1, ..."""
    return tuple(sp.Symbol(f"{name}_{k}", real=True) for k in range(count))


def _contracted(forward, spec):
    """J·v, wᵀ·J or H_i·v: the Jacobian's or Hessian's entries times the argument's symbols."""
    n_in, n_out = len(forward.inputs), len(forward.block("value").entries)
    whole = derivative_program(forward, "hessian" if spec.kind == "hvp" else "jacobian")
    entries = whole.blocks[0].as_array()
    if spec.kind == "jvp":
        v = argument_symbols("v", n_in)
        sums, argument = [sp.Add(*(entries[i, k] * v[k] for k in range(n_in))) for i in range(n_out)], ("v", v)
    elif spec.kind == "vjp":
        w = argument_symbols("w", n_out)
        sums, argument = [sp.Add(*(w[i] * entries[i, k] for i in range(n_out))) for k in range(n_in)], ("w", w)
    else:
        v = argument_symbols("v", n_in)
        sums = [sp.Add(*(entries[i, k, m] * v[m] for m in range(n_in))) for i in range(n_out) for k in range(n_in)]
        argument = ("v", v)
    shape = spec.shape(n_in, n_out)
    return Program(forward.inputs, whole.assignments, (Block(spec.name, shape, tuple(sums)),), (argument,))


def _along(assignments, inputs, k, suffix):
    """(new assignments, {symbol: derivative}): d/dx_k of every symbol of a straight-line
    program by the chain rule, each derivative that is not a symbol or a number assigned to
    a new symbol named after its target and ``suffix``."""
    tangent = {x: sp.Integer(int(j == k)) for j, x in enumerate(inputs)}
    new = []
    for assignment in assignments:
        expr = _chain(_partials(assignment, tangent), lambda u: tangent[u])
        if expr.is_Symbol or expr.is_Number:
            tangent[assignment.target] = expr
            continue
        target = sp.Symbol(f"{assignment.target}_{suffix}", real=True)
        new.append(Assignment(target, expr))
        tangent[assignment.target] = target
    return tuple(new), tangent
