"""Every transfer function: sympy's derivatives against central finite
differences of the function itself, on both sides of every kink."""

import numpy as np
import pytest
import sympy as sp

from symnet.ir import transfer

ELEMENTWISE = sorted(name for name, entry in transfer.REGISTRY.items() if entry.elementwise)
PARAMS = {"leaky_relu": (("alpha", 0.07),), "elu": (("alpha", 1.3),),
          "softplus": (("beta", 2.0), ("threshold", 1.5)), "hard_sigmoid": (("alpha", 1 / 6), ("beta", 0.5)),
          "clip": (("min", -1.2), ("max", 0.7)),
          "expression": (("expression", "n*tanh(log(1 + exp(n))) + Piecewise((0.1*n, n <= 0.2), (0.02, True))"),)}
KINKS = {"poslin": (0.0,), "satlin": (0.0, 1.0), "satlins": (-1.0, 1.0), "leaky_relu": (0.0,),
         "elu": (0.0,), "elliotsig": (0.0,), "selu": (0.0,), "softplus": (0.75,),
         "hard_sigmoid": (-3.0, 3.0), "clip": (-1.2, 0.7), "expression": (0.2,)}
POINTS = np.array([-3.1, -1.7, -0.45, -0.05, 0.03, 0.4, 0.95, 1.6, 2.9])


def functions(name):
    entry = transfer.lookup(name)
    n = transfer.elementwise_symbol()
    params = PARAMS.get(name, ())
    value, first, second = stated_forms(entry, n, params)
    return [sp.lambdify(n, e, "numpy") for e in (value, first, second)]


def stated_forms(entry, n, params=()):
    """f, f' and f'' as the symbolic stage emits them, as expressions of n alone."""
    a, d = sp.symbols("a d", real=True)
    value = entry.expression(n, params)
    first = sp.sympify(entry.derivative(n, a, params)).subs(a, value)
    second = sp.sympify(entry.curvature(n, a, d, params)).subs(d, first).subs(a, value)
    return value, first, second


def central(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_first_derivative_matches_finite_differences(name):
    value, first, _ = functions(name)
    for x in POINTS:
        assert first(x) == pytest.approx(central(value, x), rel=1e-7, abs=1e-8), x


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_second_derivative_matches_finite_differences(name):
    _, first, second = functions(name)
    for x in POINTS:
        assert second(x) == pytest.approx(central(first, x), rel=1e-6, abs=1e-7), x


@pytest.mark.parametrize("name", sorted(KINKS))
def test_derivative_on_each_side_of_a_kink(name):
    value, first, _ = functions(name)
    for kink in KINKS[name]:
        for side in (-1, 1):
            x = kink + side * 1e-3
            assert first(x) == pytest.approx(central(value, x, h=1e-5), rel=1e-6, abs=1e-8)


def test_kink_convention_is_the_flat_side():
    values = {name: float(functions(name)[1](kink)) for name, kinks in KINKS.items() for kink in kinks[:1]}
    assert values["poslin"] == 0.0
    assert values["leaky_relu"] == pytest.approx(0.07)
    assert values["elu"] == pytest.approx(1.3)
    assert float(functions("satlin")[1](1.0)) == 0.0
    assert float(functions("satlins")[1](-1.0)) == 0.0


def on_half_lines(expr, n):
    """``expr`` on n > 0 and on n < 0, each remaining Piecewise (a guard that returns the
    limit far out, checked in test_numeric_safety) replaced by the formula it guards."""
    p = sp.Symbol("p", positive=True)
    halves = []
    for side in (p, -p):
        half = sp.expand_func(sp.sympify(expr).subs(n, side))
        halves.append(half.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[-1].expr))
    return halves


STATED = sorted(name for name, e in transfer.REGISTRY.items()
                if e.elementwise and (e.output_derivative or e.second_derivative or e.reference))


@pytest.mark.parametrize("name", STATED)
def test_stated_forms_equal_the_textbook_formula_and_its_derivatives(name):
    """The numerically safe f, the stated f' and f'' are, on each half line, sympy's
    textbook formula and its first and second derivatives."""
    entry = transfer.lookup(name)
    n = transfer.elementwise_symbol()
    params = PARAMS.get(name, ())
    reference = entry.reference_expression(n, params)
    textbook = (reference, sp.diff(reference, n), sp.diff(reference, n, 2))
    for order, (stated, expected) in enumerate(zip(stated_forms(entry, n, params), textbook)):
        for safe, plain in zip(on_half_lines(stated, n), on_half_lines(expected, n)):
            assert sp.simplify((safe - plain).rewrite(sp.exp)) == 0, (order, safe, plain)


def test_softmax_jacobian_matches_finite_differences():
    entry = transfer.lookup("softmax")
    ns = sp.symbols("n0:3", real=True)
    f = sp.lambdify([ns], entry.build(list(ns)), "numpy")
    jac = sp.lambdify([ns], sp.Matrix(entry.build(list(ns))).jacobian(ns), "numpy")
    x = np.array([0.3, -1.2, 2.0])
    numeric = np.stack([(np.array(f(x + h)) - np.array(f(x - h))) / 2e-6
                        for h in np.eye(3) * 1e-6], axis=1)
    np.testing.assert_allclose(jac(x), numeric, rtol=1e-7, atol=1e-9)


def _rms_norm_by_hand(n, eps):
    """y = n/r, r = sqrt(mean n^2 + eps); J = (I - y y^T/N)/r; the Hessian of y_j from
    a_j r = n_j differentiated twice, written without sympy."""
    size = n.size
    r = np.sqrt(np.mean(n**2) + eps)
    y = n / r
    jacobian = (np.eye(size) - np.outer(y, y) / size) / r
    dr = y / size                                   # dr/dn_k
    d2r = jacobian / size                           # d2r/dn_k dn_m = (dy_k/dn_m)/N
    hessian = -(jacobian[:, :, None] * dr[None, None, :] + jacobian[:, None, :] * dr[None, :, None]
                + y[:, None, None] * d2r[None, :, :]) / r
    return y, jacobian, hessian


def test_rms_norm_derivatives_match_the_hand_derived_forms_and_finite_differences():
    entry = transfer.lookup("rms_norm")
    eps = 0.05
    ns = sp.symbols("n0:4", real=True)
    outputs = sp.Matrix(entry.build(list(ns), eps=eps))
    f = sp.lambdify([ns], list(outputs), "numpy")
    jac = sp.lambdify([ns], outputs.jacobian(ns), "numpy")
    hess = sp.lambdify([ns], [sp.hessian(out, ns) for out in outputs], "numpy")
    x = np.array([0.3, -1.2, 2.0, -0.4])
    y, jacobian, hessian = _rms_norm_by_hand(x, eps)
    np.testing.assert_allclose(f(x), y, rtol=1e-14)
    np.testing.assert_allclose(jac(x), jacobian, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.array(hess(x)), hessian, rtol=1e-12, atol=1e-14)
    numeric = np.stack([(np.array(f(x + h)) - np.array(f(x - h))) / 2e-6 for h in np.eye(4) * 1e-6], axis=1)
    np.testing.assert_allclose(jacobian, numeric, rtol=1e-7, atol=1e-9)


def test_rms_norm_needs_a_positive_eps():
    with pytest.raises(transfer.ModelFormatError, match="'rms_norm'.*eps must be positive"):
        transfer.normalize_parameters("rms_norm", (("eps", 0.0),))


def test_aliases_resolve_to_matlab_names():
    assert transfer.lookup("tanh").name == "tansig"
    assert transfer.lookup("relu").name == "poslin"
    assert transfer.lookup("sigmoid").name == "logsig"
    assert transfer.lookup("linear").name == "purelin"
    assert transfer.lookup("silu").name == "swish"


def test_unknown_transfer_function_names_the_supported_ones():
    with pytest.raises(transfer.UnsupportedError, match="unknown transfer function 'hardlim'.*tansig"):
        transfer.lookup("hardlim")
