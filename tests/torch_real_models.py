"""Networks written the way scientific-ML code writes them (PINNs, DeepXDE, SIREN, MPC,
neural ODEs), in float64, and torch's own derivatives of them as one flat function.

Each entry of MODELS builds (module, sizes of its tensor arguments)."""

import torch
from torch import nn


def mlp(sizes, activation=nn.Tanh):
    layers = []
    for inputs, outputs in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(inputs, outputs), activation()]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))


class BurgersPINN(nn.Module):
    """u(x, t): the two coordinates joined, scaled to [-1, 1] by the domain's bounds."""

    def __init__(self):
        super().__init__()
        self.register_buffer("lb", torch.tensor([-1.0, 0.0]))
        self.register_buffer("ub", torch.tensor([1.0, 0.99]))
        self.net = mlp([2, 8, 8, 1])

    def forward(self, x, t):
        X = torch.cat([x, t], 1)
        H = 2.0 * (X - self.lb) / (self.ub - self.lb) - 1.0
        return self.net(H)


class ExplicitWeights(nn.Module):
    """A PINN written with parameter lists and H @ W + b, as ports of TensorFlow PINNs are."""

    def __init__(self):
        super().__init__()
        sizes = [2, 6, 6, 1]
        self.weights = nn.ParameterList(nn.Parameter(torch.randn(a, b) / a**0.5) for a, b in zip(sizes, sizes[1:]))
        self.biases = nn.ParameterList(nn.Parameter(torch.rand(1, b) - 0.5) for b in sizes[1:])

    def forward(self, x, t):
        H = torch.cat((x, t), dim=1)
        for W, b in zip(self.weights[:-1], self.biases[:-1]):
            H = torch.tanh(torch.add(torch.matmul(H, W), b))
        return H @ self.weights[-1] + self.biases[-1]


class NavierStokesPINN(nn.Module):
    """(u, v, p) of (x, y, t) joined with hstack; the results sliced and returned as a tuple."""

    def __init__(self):
        super().__init__()
        self.net = mlp([3, 6, 6, 3], nn.SiLU)

    def forward(self, x, y, t):
        out = self.net(torch.hstack((x, y, t)))
        u = out[:, 0:1]
        v = out[:, 1:2]
        return u, v, out[:, 2:3]


class StackedCoordinates(nn.Module):
    """One tensor of coordinates split into columns, which are stacked back in another order."""

    def __init__(self):
        super().__init__()
        self.net = mlp([3, 5, 2], nn.GELU)

    def forward(self, X):
        x, t, y = X[:, 0], X[:, 1], X[:, 2]
        first, second = torch.split(self.net(torch.stack([t, x, y], dim=1)), 1, dim=1)
        return {"pressure": second, "velocity": first}


class DeepXDEFNN(nn.Module):
    """DeepXDE's FNN: ModuleList of Linear layers, a functional activation, an input transform."""

    def __init__(self, activation=torch.sin):
        super().__init__()
        self.activation = activation
        self._input_transform = lambda x: torch.cat([x, torch.sin(x), torch.cos(x)], dim=1)
        self._output_transform = None
        sizes = [6, 10, 10, 1]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, inputs):
        x = inputs
        if self._input_transform is not None:
            x = self._input_transform(x)
        for linear in self.linears[:-1]:
            x = self.activation(linear(x))
        x = self.linears[-1](x)
        if self._output_transform is not None:
            x = self._output_transform(inputs, x)
        return x


class PFNN(nn.Module):
    """DeepXDE's PFNN: one sub-network per output on the same input, outputs joined."""

    def __init__(self):
        super().__init__()
        self.branches = nn.ModuleList(mlp([2, 6, 6, 1]) for _ in range(3))

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class Siren(nn.Module):
    """SIREN: sin(omega_0 * (W x + b)) layers."""

    def __init__(self, omega=30.0):
        super().__init__()
        self.omega = omega
        self.layers = nn.ModuleList([nn.Linear(2, 8), nn.Linear(8, 8)])
        self.last = nn.Linear(8, 1)
        with torch.no_grad():
            for layer in self.layers:
                layer.weight.uniform_(-1.0 / 8, 1.0 / 8)

    def forward(self, coords):
        h = coords
        for layer in self.layers:
            h = torch.sin(self.omega * layer(h))
        return self.last(h)


class MPCPolicy(nn.Module):
    """An MPC-style MLP with batch normalization and dropout (used in eval mode), and a residual."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 8)
        self.norm = nn.BatchNorm1d(8)
        self.drop = nn.Dropout(0.2)
        self.hidden = nn.Linear(8, 8)
        self.out = nn.Linear(8, 2)
        with torch.no_grad():
            self.norm.running_mean.uniform_(-0.5, 0.5)
            self.norm.running_var.uniform_(0.5, 2.0)
            self.norm.weight.uniform_(0.5, 1.5)
            self.norm.bias.uniform_(-0.2, 0.2)

    def forward(self, state):
        h = self.drop(torch.relu(self.norm(self.inp(state))))
        h = h + torch.tanh(self.hidden(h))
        return self.out(h)


class MPCLayerNorm(nn.Module):
    """An MPC policy with layer normalization: before an activation (its scale and shift then
    act per unit before tanh), without affine parameters, and functional before the last Linear.
    The eps are powers of two: ONNX stores LayerNormalization's epsilon as a float32, which
    would change 1e-3 in its eighth digit and the exported derivatives in their eleventh."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 8)
        self.norm = nn.LayerNorm(8, eps=2.0**-17)
        self.hidden = nn.Linear(8, 6)
        self.plain = nn.LayerNorm(6, elementwise_affine=False, eps=2.0**-10)
        self.scale = nn.Parameter(torch.empty(6).uniform_(0.5, 1.5))
        self.shift = nn.Parameter(torch.empty(6).uniform_(-0.3, 0.3))
        self.out = nn.Linear(6, 2)
        with torch.no_grad():
            self.norm.weight.uniform_(0.5, 1.5)
            self.norm.bias.uniform_(-0.3, 0.3)

    def forward(self, state):
        h = torch.tanh(self.norm(self.inp(state)))
        h = torch.nn.functional.silu(self.plain(self.hidden(h)))
        h = torch.nn.functional.layer_norm(h, (6,), self.scale, self.shift, 2.0**-14)
        return self.out(h)


class WideLayerNormMPC(nn.Module):
    """An MPC policy of the layered strategy's size: (Linear, LayerNorm with its scale and
    shift, tanh) twice, then the control head.  The eps are powers of two (see MPCLayerNorm)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16, eps=2.0**-16), nn.Tanh(),
                                  nn.Linear(16, 12), nn.LayerNorm(12, eps=2.0**-12), nn.Tanh(),
                                  nn.Linear(12, 3))
        with torch.no_grad():
            for norm in (self.body[1], self.body[4]):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.3, 0.3)

    def forward(self, state):
        return self.body(state)


class RMSNormed(nn.Module):
    """RMSNorm (no centering) before an activation, its weight per unit before tanh."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(3, 5)
        self.norm = nn.RMSNorm(5, eps=2.0**-12)
        self.out = nn.Linear(5, 2)
        with torch.no_grad():
            self.norm.weight.uniform_(0.5, 1.5)

    def forward(self, x):
        return self.out(torch.tanh(self.norm(self.inp(x))))


class NeuralODE(nn.Module):
    """A neural ODE right-hand side f(t, y) with normalization buffers; t is not used."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.5, -1.0, 2.0]))
        self.register_buffer("std", torch.tensor([2.0, 0.5, 4.0]))
        self.register_buffer("scale", torch.tensor([0.1, 10.0, 1.0]))
        self.net = mlp([3, 7, 3], nn.Softplus)

    def forward(self, t, y):
        return self.net((y - self.mean) / self.std) * self.scale


class Guarded(nn.Module):
    """A forward that accepts NumPy input, moves it to the device and converts it."""

    def __init__(self):
        super().__init__()
        self.device = torch.device("cpu")
        self.net = mlp([2, 6, 2], nn.Mish)

    def forward(self, x):
        if not torch.is_tensor(x):
            x = torch.from_numpy(x)
        if not isinstance(x, torch.Tensor):
            x = torch.tensor(x)
        x = x.to(self.device).double().contiguous()
        out = self.net(x.view(-1, 2)).reshape(x.size(0), -1)
        return out.type(torch.float64)


# --- forwards symnet refuses, or cannot size on its own ------------------------------------

class GroupNormed(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(2, 4)
        self.norm = nn.GroupNorm(2, 4)
        self.last = nn.Linear(4, 1)

    def forward(self, x):
        return self.last(self.norm(torch.tanh(self.first(x))))


class MappedThenLayer(nn.Module):
    """x * net(x) read by a further layer: an output map that is not the output."""

    def __init__(self):
        super().__init__()
        self.net = mlp([1, 4, 1])
        self.head = nn.Linear(1, 1)

    def forward(self, x):
        return self.head(x * self.net(x))


class Rounded(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x, t):
        return torch.floor(self.linear(torch.cat([x, t], 1)))


class Branching(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x):
        if x.sum() > 0:
            return self.linear(x)
        return -self.linear(x)


class SamplesMixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x):
        return self.linear(x).t()


class Training(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))

    def forward(self, x):
        return self.body(x)


class Ambiguous(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, x, t):
        return self.linear(torch.cat([x, t], 1))


MODELS = {
    "burgers_pinn": (BurgersPINN, (1, 1)),
    "explicit_weights": (ExplicitWeights, (1, 1)),
    "navier_stokes_pinn": (NavierStokesPINN, (1, 1, 1)),
    "stacked_coordinates": (StackedCoordinates, (3,)),
    "deepxde_fnn": (DeepXDEFNN, (2,)),
    "pfnn": (PFNN, (2,)),
    "siren": (Siren, (2,)),
    "mpc_policy": (MPCPolicy, (4,)),
    "mpc_layer_norm": (MPCLayerNorm, (4,)),
    "rms_normed": (RMSNormed, (3,)),
    "neural_ode": (NeuralODE, (1, 3)),
    "guarded": (Guarded, (2,)),
    "wide_layer_norm_mpc": (WideLayerNormMPC, (6,)),   # sorts last: the others keep their seeds
}


def build(name):
    """The model (the same weights on every call) in float64 and eval mode, and its argument sizes."""
    cls, sizes = MODELS[name]
    torch.manual_seed(sorted(MODELS).index(name))
    return cls().double().eval(), sizes


def flat(module, sizes):
    """The module as one function of one vector (its arguments one after the other) to one
    vector (its results one after the other, a dict's in its order)."""
    def function(z):
        arguments, start = [], 0
        for size in sizes:
            arguments.append(z[start:start + size].reshape(1, size))
            start += size
        results = module(*arguments)
        if isinstance(results, dict):
            results = list(results.values())
        if not isinstance(results, (tuple, list)):
            results = [results]
        return torch.cat([r.reshape(-1) for r in results])
    return function


def sample_inputs(sizes, count=5, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, sum(sizes), generator=generator, dtype=torch.float64) * 1.6 - 0.8


def values(module, sizes, X):
    return torch.stack([flat(module, sizes)(x) for x in X]).detach().numpy()


def jacobians(module, sizes, X):
    return torch.stack([torch.func.jacrev(flat(module, sizes))(x) for x in X]).detach().numpy()


def hessians(module, sizes, X):
    return torch.stack([torch.func.hessian(flat(module, sizes))(x) for x in X]).detach().numpy()
