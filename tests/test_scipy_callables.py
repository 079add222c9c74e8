"""SciPy-ready callables: solve_ivp (BDF, vectorized) and minimize (trust-constr, Newton-CG)
with symnet's exact Jacobian and Hessian reach what the same runs with finite-difference
derivatives reach; the callables themselves against hand-derived formulas and central
differences."""

import numpy as np
import pytest

import symnet
from symnet import Input, Layer, Network, Output
from symnet.errors import UnsupportedError

from helpers import require_module

integrate = require_module("scipy.integrate")
optimize = require_module("scipy.optimize")


def ode_network():
    """dy/dt = -3 y + W2 tanh(W1 y + b1) + b2: two states, stiff enough for BDF."""
    rng = np.random.default_rng(4)
    w1, b1, w2, b2 = rng.normal(size=(5, 2)), rng.normal(size=5), rng.normal(size=(2, 5)), rng.normal(size=2)
    damping = np.array([[-3.0, 0.0], [0.0, -40.0]])
    net = Network([Input("y", 2)], [Layer(5, "tansig", b1, [(0, w1)]),
                                    Layer(2, "purelin", b2, [(0, damping)], [(0, w2)])], [Output("dydt", 1)],
                  name="ode")
    return net, (w1, b1, w2, b2, damping)


def ode_jacobian_by_hand(y, weights):
    w1, b1, w2, _, damping = weights
    slope = 1 - np.tanh(w1 @ y + b1) ** 2
    return damping + w2 @ (slope[:, None] * w1)


def objective_network():
    """f(x) = -sum_j c_j exp(-(a_j . x + b_j)^2): bounded below, with a minimum."""
    rng = np.random.default_rng(7)
    a, b, c = rng.normal(size=(3, 2)), rng.normal(size=3), np.abs(rng.normal(size=(1, 3))) + 0.5
    net = Network([Input("x", 2)], [Layer(3, "radbas", b, [(0, a)]), Layer(1, "purelin", np.zeros(1),
                                                                            layer_weights=[(0, -c)])],
                  [Output("f", 1)], name="objective")
    return net, (a, b, c)


def central(f, x, h=1e-6):
    return np.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))], axis=-1)


def test_ivp_functions_give_the_vectorized_layout_and_the_exact_jacobian():
    net, weights = ode_network()
    ode = symnet.ivp_functions(net)
    Y = np.random.default_rng(0).normal(size=(2, 4))
    columns = ode.fun(0.0, Y)
    assert columns.shape == (2, 4)
    for k in range(4):
        np.testing.assert_allclose(columns[:, k], ode.fun(0.0, Y[:, k]), rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(ode.jac(0.0, Y[:, k]), ode_jacobian_by_hand(Y[:, k], weights), rtol=1e-13,
                                   atol=1e-13)
        np.testing.assert_allclose(ode.jac(0.0, Y[:, k]), central(lambda y: ode.fun(0.0, y), Y[:, k]),
                                   rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("vectorized", [False, True])
def test_solve_ivp_with_bdf_and_the_exact_jacobian_matches_a_finite_difference_run(vectorized):
    net, _ = ode_network()
    ode = symnet.ivp_functions(net)
    options = {"method": "BDF", "rtol": 1e-10, "atol": 1e-12, "vectorized": vectorized}
    exact = integrate.solve_ivp(ode.fun, (0.0, 2.0), [1.0, -1.0], jac=ode.jac, **options)
    differences = integrate.solve_ivp(ode.fun, (0.0, 2.0), [1.0, -1.0], **options)
    assert exact.success and differences.success
    assert exact.njev > 0
    np.testing.assert_allclose(exact.y[:, -1], differences.y[:, -1], rtol=1e-7, atol=1e-9)


def test_minimize_functions_against_hand_derived_derivatives():
    net, (a, b, c) = objective_network()
    objective = symnet.minimize_functions(net)
    for x in np.random.default_rng(1).normal(size=(3, 2)):
        n = a @ x + b
        slope = -c[0] * np.exp(-n ** 2) * (-2 * n)
        curvature = -c[0] * np.exp(-n ** 2) * (4 * n ** 2 - 2)
        assert objective.fun(x) == pytest.approx(-c[0] @ np.exp(-n ** 2), rel=1e-14)
        np.testing.assert_allclose(objective.jac(x), a.T @ slope, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(objective.hess(x), a.T @ (curvature[:, None] * a), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(objective.hess(x), central(objective.jac, x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("method", ["trust-constr", "Newton-CG"])
def test_minimize_with_the_exact_gradient_and_hessian_matches_a_finite_difference_run(method):
    net, _ = objective_network()
    objective = symnet.minimize_functions(net)
    x0 = np.array([0.3, -0.2])
    exact = optimize.minimize(objective.fun, x0, jac=objective.jac, hess=objective.hess, method=method,
                              options={"xtol": 1e-12})
    differences = optimize.minimize(objective.fun, x0, jac="3-point", hess=optimize.BFGS(), method="trust-constr",
                                    options={"xtol": 1e-12, "gtol": 1e-10})
    assert exact.success and differences.success, (exact.message, differences.message)
    np.testing.assert_allclose(exact.x, differences.x, rtol=1e-6, atol=1e-6)
    assert np.linalg.norm(objective.jac(exact.x)) < 1e-8
    assert np.all(np.linalg.eigvalsh(objective.hess(exact.x)) > 0)


def test_the_callables_refuse_networks_of_the_wrong_shape():
    with pytest.raises(UnsupportedError, match="as many outputs as inputs"):
        symnet.ivp_functions(objective_network()[0])
    with pytest.raises(UnsupportedError, match="single-output"):
        symnet.minimize_functions(ode_network()[0])
