"""PyTorch import: symnet's Jacobian and Hessian against torch.func.jacrev and
torch.func.hessian in float64, state dicts, and the conventions at kinks."""

import numpy as np
import pytest

import symnet
from helpers import require_module
from symnet.reference.finite_differences import compare

torch = require_module("torch")

import torch_models  # noqa: E402  (needs torch)
from torch import nn  # noqa: E402


#: torch's Hardsigmoid backward multiplies by 1.0f/6.0f, a float32 constant, even in float64
#: (its forward divides by 6): its jacrev is off by 3e-8 relative; tested on its own below
EXACT_MODELS = sorted(set(torch_models.MODELS) - {"leaky_hardtanh_hardsigmoid_softsign"})


@pytest.fixture(scope="module", params=EXACT_MODELS)
def imported(request):
    module = torch_models.build(request.param)
    X = torch_models.sample_inputs(5, normalized=torch_models.is_normalized(request.param))
    return module, symnet.load(module), X


def test_outputs_match_the_module(imported):
    module, net, X = imported
    expected = module(X).detach().numpy()
    assert compare(net.evaluate(X.numpy())[:, None, :], expected[:, None, :]).max_rel_error <= 1e-13


def test_jacobian_matches_jacrev(imported):
    module, net, X = imported
    result = compare(symnet.derive(net, "jacobian")(X.numpy()), torch_models.jacobians(module, X))
    assert result.max_rel_error <= 1e-10, result


def test_hessian_matches_torch_hessian(imported):
    module, net, X = imported
    result = compare(symnet.derive(net, "hessian")(X.numpy()), torch_models.hessians(module, X))
    assert result.max_rel_error <= 1e-10, result


def test_hardsigmoid_model_matches_jacrev_up_to_torchs_float32_one_sixth():
    module = torch_models.build("leaky_hardtanh_hardsigmoid_softsign")
    net = symnet.load(module)
    X = torch_models.sample_inputs(5)
    assert [layer.transfer for layer in net.layers] == ["leaky_relu", "clip", "hard_sigmoid", "elliotsig",
                                                        "purelin"]
    result = compare(symnet.derive(net, "jacobian")(X.numpy()), torch_models.jacobians(module, X))
    assert result.max_rel_error <= 1e-7, result


def test_residual_forward_becomes_layers_with_two_sources():
    net = symnet.load(torch_models.build("gelu_tanh_residual"))
    assert [layer.transfer for layer in net.layers] == ["tansig", "gelu_tanh", "softplus", "purelin"]
    assert [source for source, _ in net.layers[2].layer_weights] == [0, 1]


class Kinks(nn.Module):
    """One activation per input element, applied to x itself, so that x can sit on a kink."""

    def __init__(self, activation):
        super().__init__()
        self.linear = nn.Linear(1, 1)
        self.activation = activation
        with torch.no_grad():
            self.linear.weight.fill_(1.0)
            self.linear.bias.fill_(0.0)

    def forward(self, x):
        return self.activation(self.linear(x))


@pytest.mark.parametrize("activation, kinks", [
    (nn.ReLU(), [0.0]), (nn.LeakyReLU(0.1), [0.0]), (nn.ELU(0.7), [0.0]), (nn.SELU(), [0.0]),
    (nn.Hardtanh(-0.5, 0.8), [-0.5, 0.8]), (nn.ReLU6(), [0.0, 6.0]), (nn.Hardsigmoid(), [-3.0, 3.0]),
    (nn.Softplus(beta=2.0, threshold=3.0), [1.5]),
], ids=lambda value: type(value).__name__ if isinstance(value, nn.Module) else None)
def test_derivative_at_a_kink_is_torchs(activation, kinks):
    module = Kinks(activation).double()
    net = symnet.load(module)
    X = torch.tensor([[k] for k in kinks], dtype=torch.float64)
    expected = torch_models.jacobians(module, X)
    np.testing.assert_allclose(symnet.derive(net, "jacobian")(X.numpy()), expected, rtol=1e-15)


def test_state_dict_file_with_its_module(tmp_path):
    trained = torch_models.build("tanh_sigmoid", seed=3)
    path = tmp_path / "weights.pt"
    torch.save(trained.state_dict(), path)
    net = symnet.load(path, module=torch_models.build("tanh_sigmoid", seed=4))
    X = torch_models.sample_inputs(3)
    assert compare(net.evaluate(X.numpy())[:, None, :],
                   trained(X).detach().numpy()[:, None, :]).max_rel_error <= 1e-13


def test_state_dict_without_module_or_that_does_not_fit(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(torch_models.build("tanh_sigmoid").state_dict(), path)
    with pytest.raises(symnet.UnsupportedError, match="needs its module.*module=YourModule"):
        symnet.load(path)
    with pytest.raises(symnet.ModelFormatError, match="does not fit Normalized.*size mismatch"):
        symnet.load(path, module=torch_models.build("relu_softmax"))


def test_whole_pickled_module_needs_trust(tmp_path):
    module = torch_models.build("relu_softmax")
    path = tmp_path / "model.pt"
    torch.save(module, path)
    with pytest.raises(symnet.UnsupportedError, match="runs code from the file.*--trust-pickle"):
        symnet.load(path)
    net = symnet.load(path, trust_pickle=True)
    X = torch_models.sample_inputs(2)
    assert compare(net.evaluate(X.numpy())[:, None, :],
                   module(X).detach().numpy()[:, None, :]).max_rel_error <= 1e-13


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(3, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        h = torch.sigmoid(self.hidden(x))
        return self.out(h), h * 2.0


def test_tuple_of_outputs():
    module = TwoOutputs().double()
    net = symnet.load(module)
    X = torch.randn(3, 3, dtype=torch.float64)
    expected = torch.cat(module(X), dim=1).detach().numpy()
    assert compare(net.evaluate(X.numpy())[:, None, :], expected[:, None, :]).max_rel_error <= 1e-13


@pytest.mark.parametrize("model", ["silu_gelu", "elu_selu_softplus"])
def test_generated_python_and_numpy_agree_with_jacrev(model, tmp_path):
    """erf (GELU), expm1/log1p (ELU, softplus) in the pure-Python and NumPy targets."""
    from helpers import import_file
    module = torch_models.build(model)
    net = symnet.load(module)
    X = torch_models.sample_inputs(4)
    expected = torch_models.jacobians(module, X)
    symnet.generate(net, ["python", "numpy"], tmp_path, derivatives=["jacobian"], name="imported")
    vectorized = import_file(tmp_path / "imported_numpy.py", "imported_numpy").jacobian(X.numpy())
    assert compare(vectorized, expected).max_rel_error <= 1e-10
    point_wise = import_file(tmp_path / "imported.py", "imported").jacobian
    assert compare(np.array([point_wise(list(x)) for x in X.numpy()]), expected).max_rel_error <= 1e-10
