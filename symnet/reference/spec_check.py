"""``symnet check``: every derivative of a spec (symnet.ir.derivative_spec) at random points,
against central finite differences and against the 30-digit reference.

The differences are those of symnet.reference.finite_differences: the Jacobian's of the
direct numeric evaluation, the Hessian's of the exact Jacobian; a derivative along a
direction or reduced over the inputs is the same sum of their entries (J·v, wᵀ·J, H_i·v,
traces), and a partial derivative of order p >= 3 is the difference of the exact partial of
order p - 1 along its last input, so that no derivative is checked against its own code.
The reference (symnet.reference.directional) shares nothing with either.

``symnet check --expression``: a user expression's value, gradient and Hessian
(``check_expressions``) against the formula of finite-difference partials, the central
differences of the value and of the gradient, and the 30-digit reference
(symnet.reference.expression).
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import UnsupportedError
from ..ir.derivative_spec import DerivativeSpec, spec_of
from ..ir.evaluation import evaluate
from .directional import reference_values_with
from .expression import expression_references
from .finite_differences import Comparison, _central, _steps, central_jacobian, compare, \
    finite_difference_hessian, finite_difference_jacobian


@dataclass(frozen=True)
class SpecCheck:
    """One derivative's errors: against the finite differences (or, for the value, the
    direct evaluation) and against the 30-digit reference (None where it has none: ``note``)."""
    what: str
    label: str
    differences: Comparison
    reference: Comparison = None
    note: str = ""

    def within(self, tolerance):
        return self.differences.within(tolerance) and (self.reference is None or self.reference.within(tolerance))


def directions(net, X, seed):
    """{"v": (points, n_inputs), "w": (points, n_outputs)}: the extra arguments of jvp, vjp and
    hvp at each point, uniform in [-1, 1] from ``seed``."""
    rng = np.random.default_rng([seed, 1])
    return {"v": rng.uniform(-1, 1, (len(X), net.n_inputs)), "w": rng.uniform(-1, 1, (len(X), net.n_outputs))}


def check_spec(net, whats, X, derive, seed=0):
    """[SpecCheck, ...] of the canonical names ``whats`` at the points X, the Jacobian first
    (the Hessian's differences are taken of it).  ``derive(net, what)`` builds the functions
    under test: the caller passes the API's, so that this stage does not import a later one."""
    arguments = directions(net, X, seed)
    jacobian = derive(net, "jacobian")
    differences = _Differences(net, X, jacobian, derive)
    whats = ("jacobian",) + tuple(what for what in whats if what != "jacobian")
    try:
        reference = reference_values_with(net, whats, X, arguments)
        note = ""
    except UnsupportedError as error:   # a layer the 30-digit reference does not know
        reference, note = None, f"no 30-digit reference: {error.one_line()}"
    checks = []
    for what in whats:
        spec = spec_of(what)
        function = jacobian if what == "jacobian" else derive(net, what)
        actual = _per_output(function(X, *(arguments[name] for name, _ in spec.extra_arguments)))
        expected = _per_output(differences.of(spec, arguments))
        against = None if reference is None else compare(actual, _per_output(reference[what]))
        checks.append(SpecCheck(what, label(spec), compare(actual, expected), against, note))
    return checks


def label(spec):
    """The derivative as the user writes it: its name, or a partial's formula."""
    return spec.formula() if spec.kind == "partial" else spec.name


def _per_output(values):
    """(points, 1, ...) for the arrays without an output axis, so that ``compare`` reads one
    derivative per point as one output."""
    values = np.asarray(values, dtype=float)
    return values.reshape(len(values), 1, -1) if values.ndim < 3 else values


class _Differences:
    """The finite-difference counterparts of the derivatives, each difference taken once."""

    def __init__(self, net, X, jacobian, derive):
        self.net, self.X, self.jacobian_function, self.derive = net, X, jacobian, derive
        self._jacobian = self._hessian = None

    @property
    def jacobian(self):
        if self._jacobian is None:
            self._jacobian = finite_difference_jacobian(self.net, self.X)
        return self._jacobian

    @property
    def hessian(self):
        if self._hessian is None:
            self._hessian = finite_difference_hessian(self.jacobian_function, self.net, self.X)
        return self._hessian

    def of(self, spec, arguments):
        J, v, w = (lambda: self.jacobian), arguments["v"], arguments["w"]
        kind = spec.kind
        if kind == "value":
            return evaluate(self.net, self.X)
        if kind in ("jacobian", "gradient"):
            return J() if kind == "jacobian" else J()[:, 0, :]
        if kind == "hessian":
            return self.hessian
        if kind == "jvp":
            return np.einsum("pik,pk->pi", J(), v)
        if kind == "vjp":
            return np.einsum("pik,pi->pk", J(), w)
        if kind == "hvp":
            return np.einsum("pikm,pm->pik", self.hessian, v)
        if kind == "laplacian":
            return np.trace(self.hessian, axis1=2, axis2=3)
        if kind == "divergence":
            return np.trace(J(), axis1=1, axis2=2)[:, None]
        if spec.order == 1:
            return J()[:, spec.output, spec.inputs[0]][:, None]
        if spec.order == 2:
            return self.hessian[:, spec.output, spec.inputs[0], spec.inputs[1]][:, None]
        lower = DerivativeSpec("partial", spec.output, spec.inputs[:-1])
        last, function = spec.inputs[-1], self.derive(self.net, lower.name)
        h = _steps(self.net, 1e-4)[last]
        coarse, fine = _central(function, self.X, last, h), _central(function, self.X, last, h / 2)
        return (4 * fine - coarse) / 3   # one Richardson step, as central_jacobian


def check_expressions(net, specs, X, derive, arguments):
    """[SpecCheck, ...] of user expressions' value, gradient or Hessian (symnet.ir.expression_spec:
    ExpressionSpec, one per derivative) at the points X with the parameters' values ``arguments``
    ({name: (points, size)}).  ``derive(net, spec)`` builds the function under test, called as
    ``f(X, *parameters)`` (the API's ExpressionDerivative: the caller passes it in).

    Differences: the value against the formula evaluated on the partial derivatives it reads,
    each the finite difference of the exact partial one order lower (``_Differences``); the
    gradient against central differences of the value function, the Hessian against those of
    the gradient function, so that no derivative is checked against its own code.  Reference:
    symnet.reference.expression, 30 digits."""
    jacobian = derive(net, "jacobian")
    differences = _Differences(net, X, jacobian, derive)
    steps = _steps(net, 1e-4)
    checks = []
    for spec in specs:
        values = [arguments[name] for name, _ in spec.parameters]
        actual = _per_output(derive(net, spec)(X, *values))
        if spec.what == "value":
            expected = _per_output(_formula_of_differences(spec, differences, values))
        else:
            lower = dataclasses.replace(spec, what="gradient" if spec.what == "hessian" else "value")
            function = derive(net, lower)
            expected = _per_output(central_jacobian(lambda points: np.asarray(function(points, *values)), X, steps))
        try:
            reference, note = expression_references(net, spec, X, arguments), ""
        except UnsupportedError as error:   # a layer the 30-digit reference does not know
            reference, note = None, f"no 30-digit reference: {error.one_line()}"
        against = None if reference is None else compare(actual, _per_output(reference))
        checks.append(SpecCheck(spec.name, expression_label(spec), compare(actual, expected), against, note))
    return checks


def parameter_values(parameters, count, seed):
    """{name: (count, size)}: values of the expressions' parameters at each point, uniform in
    [-1, 1] from ``seed``."""
    rng = np.random.default_rng([seed, 2])
    return {name: rng.uniform(-1, 1, (count, size)) for name, size in parameters}


def expression_label(spec):
    """An expression's derivative as the user reads it: ``r value``, ``r gradient``, ``r hessian``
    (the name as written, not the identifier the generated code renames it to)."""
    return f"{spec.user.name} {spec.what}"


def _formula_of_differences(spec, differences, parameters):
    """(points,): the expression evaluated on finite-difference partials (its own values exact)."""
    columns = []
    for q in spec.user.quantities:
        if not q.inputs:
            columns.append(evaluate(differences.net, differences.X)[:, q.output])
            continue
        partial = DerivativeSpec("partial", q.output, tuple(sorted(q.inputs)))
        columns.append(np.asarray(differences.of(partial, {"v": None, "w": None}), dtype=float).reshape(len(differences.X)))
    by_name = {name: symbols for name, _, symbols in spec.user.parameters}
    symbols = [q.symbol for q in spec.user.quantities]
    for (name, size), values in zip(spec.parameters, parameters):
        symbols += list(by_name[name])
        columns += [np.asarray(values, dtype=float)[:, j] for j in range(size)]
    function = sp.lambdify(symbols, sp.sympify(spec.user.expression), modules="numpy")
    return np.broadcast_to(np.asarray(function(*columns), dtype=float), (len(differences.X),))
