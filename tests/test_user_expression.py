"""User expressions of the outputs and their partial derivatives (symnet.ir.user_expression,
symnet.expressions): a Burgers residual of a PINN against torch autograd, a cost of the
outputs against its hand-derived gradient, the model's names, and the whitelist's refusals."""

import numpy as np
import pytest

import symnet
from helpers import require_module
from symnet.errors import UnsupportedError
from symnet.reference.finite_differences import sample_points
from test_derivative_spec import _square_network

BURGERS = "r = y_x2 + y*y_x1 - nu*y_x1x1"


def test_burgers_residual_and_its_gradient_match_torch_autograd():
    torch = require_module("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
                                 torch.nn.Linear(8, 1)).double()
    net = symnet.load(module)
    X = torch.rand(6, 2, dtype=torch.float64, requires_grad=True) * 2 - 1
    nu = 0.01 / np.pi
    u = module(X)[:, 0]
    first = torch.autograd.grad(u.sum(), X, create_graph=True)[0]
    u_xx = torch.autograd.grad(first[:, 0].sum(), X, create_graph=True)[0][:, 0]
    residual = first[:, 1] + u * first[:, 0] - nu * u_xx
    gradient = torch.autograd.grad(residual.sum(), X)[0]
    points = X.detach().numpy()
    value = symnet.derive(net, "value", expression=BURGERS, parameters={"nu": 1})(points, nu)
    assert np.allclose(value, residual.detach().numpy(), rtol=1e-12, atol=1e-14)
    ours = symnet.derive(net, "gradient", expression=BURGERS, parameters={"nu": 1})(points, [nu])
    assert np.allclose(ours, gradient.numpy(), rtol=1e-10, atol=1e-13)


def test_cost_of_the_outputs_and_its_gradient():
    net = _square_network(3)
    X = sample_points(net, 5, seed=3)
    t = np.array([0.3, -1.0, 2.0])
    cost = symnet.derive(net, "value", expression="cost = sum((y - t)**2)", parameters={"t": 3})
    gradient = symnet.derive(net, "gradient", expression="cost = sum((y - t)**2)", parameters={"t": 3})
    Y, J = net.evaluate(X), symnet.derive(net, "jacobian")(X)
    assert np.allclose(cost(X, t), ((Y - t) ** 2).sum(axis=1), rtol=1e-13)
    assert np.allclose(gradient(X, np.tile(t, (5, 1))), np.einsum("pi,pik->pk", 2 * (Y - t), J), rtol=1e-12)


def test_the_model_names_its_inputs_and_output():
    net = _square_network(1)   # inputs x, y, t; output u
    X = sample_points(net, 4, seed=2)
    residual = symnet.derive(net, "value", expression="u_t + u*u_x - nu*u_xx + sin(u_xy)", parameters={"nu": 1})
    H = symnet.derive(net, "hessian")(X)
    J = symnet.derive(net, "jacobian")(X)
    u = net.evaluate(X)[:, 0]
    expected = J[:, 0, 2] + u * J[:, 0, 0] - 0.1 * H[:, 0, 0, 0] + np.sin(H[:, 0, 0, 1])
    assert np.allclose(residual(X, 0.1), expected, rtol=1e-12)


@pytest.mark.parametrize("text, problem", [
    ("y.__class__", "is not allowed"),
    ("__import__('os')", "is not allowed"),
    ("open(1)", "unknown function 'open'"),
    ("z + 1", "unknown name 'z'"),
    ("y_q", "unknown input"),
    ("y", "the result has 3 values"),
    ("sum(y - s)", "vectors of 3 and 2 values"),
    ("y1 +", "not a formula"),
])
def test_refusals_are_one_line(text, problem):
    with pytest.raises(UnsupportedError) as error:
        symnet.derive(_square_network(3), "value", expression=text, parameters={"s": 2})
    assert problem in str(error.value) and "\n" not in str(error.value)


def test_output_maps_go_through_the_closed_form_and_match_torch():
    """A PINN with a hard boundary condition u = x(1-x)t N(x, t) + sin(pi x): the layered
    form refuses the spec for it, the unrolled closed form builds it."""
    torch = require_module("torch")
    import test_output_map as maps
    body = maps._body(2, seed=5)
    net = maps.with_map(symnet.load(body), maps.PINN_MAP)
    X = torch.rand(4, 2, dtype=torch.float64) * 0.8 + 0.1

    def u(x):
        return maps.pinn_transform(x[None, :], body(x[None, :]))[0, 0]
    hessians = torch.stack([torch.func.hessian(u)(x) for x in X])
    laplacian = symnet.derive(net, "laplacian")(X.numpy())
    assert np.allclose(laplacian[:, 0], torch.einsum("pkk->p", hessians).detach().numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(UnsupportedError, match="layered strategy maps the whole arrays only"):
        symnet.generate(net, ["c"], "unused", derivatives=["laplacian"], strategy="layered")
