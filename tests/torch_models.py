"""Small PyTorch MLPs shared by the ONNX, PyTorch and C-target import tests.

Each builder returns a module in float64 with fixed random weights; the
``Normalized`` wrapper puts a scaler's arithmetic inside the graph, as users
do when they export a model with its normalization.
"""

import torch
from torch import nn

N_INPUTS = 3


class Normalized(nn.Module):
    """(x - mean) / std -> inner -> y * scale + offset, with the constants as buffers."""

    def __init__(self, inner, outputs):
        super().__init__()
        self.inner = inner
        self.register_buffer("mean", torch.tensor([1.5, -20.0, 300.0]))
        self.register_buffer("std", torch.tensor([0.5, 4.0, 50.0]))
        self.register_buffer("scale", torch.linspace(2.0, 3.0, outputs))
        self.register_buffer("offset", torch.linspace(-1.0, 7.0, outputs))

    def forward(self, x):
        return self.inner((x - self.mean) / self.std) * self.scale + self.offset


class Residual(nn.Module):
    """A hand-written forward: functional activations and a residual addition."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(N_INPUTS, 5)
        self.second = nn.Linear(5, 5)
        self.last = nn.Linear(5, 2)

    def forward(self, x):
        h = torch.tanh(self.first(x))
        h = h + nn.functional.gelu(self.second(h), approximate="tanh")
        return self.last(nn.functional.softplus(h, beta=2.0))


def _chain(*activations, outputs=2, width=5):
    layers, size = [], N_INPUTS
    for activation in activations:
        layers += [nn.Linear(size, width), activation]
        size = width
    layers.append(nn.Linear(size, outputs))
    return nn.Sequential(*layers)


def build(name, seed=0):
    """The float64 module ``name`` (see MODELS) with weights drawn from ``seed``."""
    torch.manual_seed(seed)
    module = MODELS[name]()
    with torch.no_grad():  # larger weights than the default init: activations leave their linear part
        for parameter in module.parameters():
            parameter.mul_(2.0)
    return module.double().eval()


MODELS = {
    "tanh_sigmoid": lambda: Normalized(_chain(nn.Tanh(), nn.Sigmoid()), 2),
    "silu_gelu": lambda: Normalized(_chain(nn.SiLU(), nn.GELU()), 2),
    "relu_softmax": lambda: Normalized(nn.Sequential(_chain(nn.ReLU(), outputs=3), nn.Softmax(dim=-1)), 3),
    "elu_selu_softplus": lambda: Normalized(_chain(nn.ELU(0.7), nn.SELU(), nn.Softplus()), 1),
    "leaky_hardtanh_hardsigmoid_softsign": lambda: Normalized(
        _chain(nn.LeakyReLU(0.1), nn.Hardtanh(-0.5, 0.8), nn.Hardsigmoid(), nn.Softsign()), 2),
    "gelu_tanh_residual": Residual,
    "relu6_softplus_threshold": lambda: _chain(nn.ReLU6(), nn.Softplus(beta=1.5, threshold=2.0), outputs=2),
}


def sample_inputs(count, seed=1, normalized=True):
    """Raw inputs around the training range of ``Normalized`` (or of unit scale)."""
    generator = torch.Generator().manual_seed(seed)
    unit = torch.randn(count, N_INPUTS, generator=generator, dtype=torch.float64)
    if not normalized:
        return unit
    return unit * torch.tensor([0.5, 4.0, 50.0], dtype=torch.float64) + torch.tensor([1.5, -20.0, 300.0],
                                                                                         dtype=torch.float64)


def is_normalized(name):
    return name not in ("gelu_tanh_residual", "relu6_softplus_threshold")


def jacobians(module, X):
    """torch.func.jacrev per sample: (n, n_outputs, n_inputs) as numpy."""
    return torch.stack([torch.func.jacrev(module)(x) for x in X]).detach().numpy()


def hessians(module, X):
    """torch.func.hessian per sample: (n, n_outputs, n_inputs, n_inputs) as numpy."""
    return torch.stack([torch.func.hessian(module)(x) for x in X]).detach().numpy()
