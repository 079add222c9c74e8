"""``symnet.derive(net, what)(X)``: the layered NumPy code compiled in process, against
the unrolled closed form (sympy's lambdify), central differences of the direct
evaluation, and torch.func in float64; batch shapes, validation, laziness."""

import numpy as np
import pytest
import sympy as sp

import symnet
from symnet import Input, Layer, MapMinMax, Network, Output, RemoveConstantRows, UnsupportedError
from symnet.ir import transfer
from symnet.reference.finite_differences import compare, finite_difference_hessian, finite_difference_jacobian, sample_points
from symnet.errors import ModelFormatError
from symnet.ir.evaluation import evaluate
from symnet.unrolled.symbolic import SymbolicOptions

from helpers import closed_form, points_for, random_network, require_module

WHATS = ("value", "gradient", "jacobian", "hessian")

#: every registered transfer function; ``expression`` with a formula of its own
TRANSFERS = tuple((name, ()) for name in sorted(transfer.REGISTRY) if name != "expression") + (
    ("expression", (("expression", "n*tanh(log(exp(n) + 1))"),)),)


def assert_close(actual, expected, rtol=1e-12):
    """The generated code's contract (tests/test_layered.py): relative to the largest entry."""
    assert actual.shape == expected.shape
    scale = np.abs(expected).max() + 1e-300
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def whats(net):
    return WHATS if net.n_outputs == 1 else tuple(w for w in WHATS if w != "gradient")


def transfer_network(name, params, outputs=1):
    """3 raw inputs (one constant, removed) with mapminmax; ``name`` in the first layer; a tanh
    layer fed by the inputs and that layer (a cascade link); outputs with both steps."""
    rng = np.random.default_rng(7)
    steps = [RemoveConstantRows(3, (0, 2)), MapMinMax(np.array([-2.0, 10.0]), np.array([0.7, 0.05]), -1.0)]
    layers = [Layer(4, name, rng.normal(scale=0.5, size=4), [(0, rng.normal(size=(4, 2)))], transfer_params=params),
              Layer(3, "tansig", rng.normal(scale=0.5, size=3), [(0, rng.normal(size=(3, 2)))],
                    [(0, rng.normal(size=(3, 4)))]),
              Layer(outputs, "purelin", rng.normal(size=outputs), layer_weights=[(1, rng.normal(size=(outputs, 3)))])]
    out_steps = [RemoveConstantRows(outputs + 1, tuple(range(outputs)), (4.5,)),
                 MapMinMax(rng.uniform(-3, 3, outputs), rng.uniform(0.1, 2, outputs), -1.0)]
    return Network([Input("x", 3, steps)], layers, [Output("y", 2, out_steps)], name=f"t_{name}")


@pytest.mark.parametrize("name, params", TRANSFERS, ids=[name for name, _ in TRANSFERS])
def test_every_transfer_function_matches_the_closed_form(name, params):
    net = transfer_network(name, params)
    X = points_for(net, count=6, seed=3)
    for what in whats(net):
        assert_close(symnet.derive(net, what)(X), closed_form(net, what)(X))


@pytest.mark.parametrize("seed", range(12))
def test_random_networks_match_the_closed_form(seed):
    """Several inputs and outputs, cascade links, softmax, every normalization step."""
    net = random_network(seed)
    X = points_for(net, count=5, seed=seed)
    for what in whats(net):
        assert_close(symnet.derive(net, what)(X), closed_form(net, what)(X))


def test_value_matches_the_direct_evaluation():
    for seed in range(6):
        net = random_network(seed)
        X = points_for(net, count=5, seed=seed)
        assert_close(symnet.derive(net, "value")(X), evaluate(net, X))


def torch_mlp(torch, sizes, activation, softmax=False, seed=0):
    """A float64 torch MLP ``sizes`` with ``activation`` between its linear layers, inputs
    and outputs scaled the way a user's normalization wrapper does."""
    torch.manual_seed(seed)
    layers = []
    for k in range(1, len(sizes)):
        layers.append(torch.nn.Linear(sizes[k - 1], sizes[k]))
        if k < len(sizes) - 1:
            layers.append(activation())
    if softmax:
        layers.append(torch.nn.Softmax(dim=-1))
    return torch.nn.Sequential(*layers).double().eval()


TORCH_NETS = {
    "tanh_4-48-48-3": ((4, 48, 48, 3), "Tanh", False),
    "silu_6-40-40-2": ((6, 40, 40, 2), "SiLU", False),
    "gelu_3-32-32-1": ((3, 32, 32, 1), "GELU", False),
    "sigmoid_softmax_5-40-4": ((5, 40, 4), "Sigmoid", True),
}


@pytest.mark.parametrize("label", sorted(TORCH_NETS))
def test_bigger_torch_nets_match_torch_func_and_finite_differences(label):
    torch = require_module("torch")
    import torch_models
    sizes, activation, softmax = TORCH_NETS[label]
    module = torch_mlp(torch, sizes, getattr(torch.nn, activation), softmax)
    net = symnet.load(module)
    X = np.random.default_rng(5).normal(scale=1.5, size=(6, sizes[0]))
    points = torch.tensor(X, dtype=torch.float64)
    jacobian = symnet.derive(net, "jacobian")
    J, H = jacobian(X), symnet.derive(net, "hessian")(X)
    assert compare(J, torch_models.jacobians(module, points)).max_rel_error <= 1e-10
    assert compare(H, torch_models.hessians(module, points)).max_rel_error <= 1e-10
    assert compare(J, finite_difference_jacobian(net, X)).max_rel_error <= 1e-6
    assert compare(H, finite_difference_hessian(jacobian, net, X)).max_rel_error <= 1e-6


def small_network():
    """3 raw inputs, 3 raw outputs (one of them a removed constant row)."""
    return transfer_network("tansig", (), outputs=2)


def test_batch_and_single_point_shapes():
    net = small_network()
    n_in, n_out = net.n_inputs, net.n_outputs
    shapes = {"value": (n_out,), "jacobian": (n_out, n_in), "hessian": (n_out, n_in, n_in)}
    X = points_for(net, count=7)
    for what, shape in shapes.items():
        derivative = symnet.derive(net, what)
        assert derivative.shape == shape
        assert derivative(X).shape == (7,) + shape
        assert derivative(X[2:3]).shape == (1,) + shape
        np.testing.assert_array_equal(derivative(X[2:3])[0], derivative(X)[2])
        assert derivative(X[:0]).shape == (0,) + shape
        assert derivative(X.tolist()).shape == (7,) + shape


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((2, 2)), np.zeros((2, 4)), np.zeros((1, 2, 3))],
                         ids=["one_dimensional", "too_few_columns", "too_many_columns", "three_dimensional"])
def test_bad_batches_name_the_expected_shape(bad):
    with pytest.raises(ModelFormatError, match=r"expected X of shape \(n_samples, 3\)"):
        symnet.derive(small_network(), "jacobian")(bad)


def test_the_closed_form_is_built_only_when_asked_for():
    net = small_network()
    derivative = symnet.derive(net, "jacobian")
    X = points_for(net, count=3)
    derivative(X)
    assert derivative.shape == (3, 3) and derivative.inputs == sp.symbols("x_0:3", real=True)
    assert not {"unsimplified", "program", "expressions"} & set(vars(derivative))
    expressions = sp.lambdify([derivative.inputs], derivative.expressions.tolist(), "numpy")
    for x, exact in zip(X, derivative(X)):
        assert_close(np.array(expressions(list(x)), dtype=float), exact)
    assert derivative.program.blocks[0].shape == (3, 3)


def test_symbolic_weights_give_expressions_but_no_numbers():
    derivative = symnet.Derivative(small_network(), "value", SymbolicOptions("symbolic"))
    assert derivative.expressions.shape == (3,)
    with pytest.raises(UnsupportedError, match="numeric weights"):
        derivative(np.zeros((1, 3)))


def test_a_network_the_layered_form_refuses_evaluates_through_the_closed_form(monkeypatch):
    def refuse(net, what):
        raise UnsupportedError("not in the layered form")
    monkeypatch.setattr(symnet.api, "layered_numpy_function", refuse)
    net = small_network()
    X = points_for(net, count=3)
    jacobian = symnet.derive(net, "jacobian")
    assert_close(jacobian(X), finite_difference_jacobian(net, X), rtol=1e-6)
    assert "unsimplified" in vars(jacobian)


def test_finite_differences_never_run_the_code_they_check(monkeypatch):
    """finite_differences.py differences symnet.ir.evaluation.evaluate, not Network.evaluate or the layered code."""
    net = small_network()
    X = points_for(net, count=3)
    J = symnet.derive(net, "jacobian")(X)

    def forbidden(*args, **kwargs):
        raise AssertionError("finite differences ran the code under test")
    monkeypatch.setattr(Network, "evaluate", forbidden)
    monkeypatch.setattr(symnet.api, "layered_numpy_function", forbidden)
    assert compare(J, finite_difference_jacobian(net, X)).max_rel_error <= 1e-6


def test_a_2_512_512_1_jacobian_builds_and_evaluates():
    """The closed form of this net takes more than ten minutes; the layered code well under a second."""
    rng = np.random.default_rng(0)
    layers = [Layer(512, "tansig", rng.normal(size=512), [(0, rng.normal(size=(512, 2)))]),
              Layer(512, "tansig", rng.normal(scale=0.3, size=512),
                    layer_weights=[(0, rng.normal(scale=1 / 24, size=(512, 512)))]),
              Layer(1, "purelin", rng.normal(size=1), layer_weights=[(1, rng.normal(scale=1 / 24, size=(1, 512)))])]
    net = Network([Input("x", 2, [MapMinMax(np.array([-1.0, -1.0]), np.array([1.0, 1.0]), -1.0)])], layers,
                  [Output("y", 2)])
    X = sample_points(net, 200)
    J = symnet.derive(net, "jacobian")(X)
    assert J.shape == (200, 1, 2)
    assert compare(J, finite_difference_jacobian(net, X)).max_rel_error <= 1e-6
