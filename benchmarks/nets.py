"""The four benchmark networks (fixed seeds) and hand-written NumPy references.

Each is a tanh MLP with a linear output layer and mapminmax on both sides, the
shape MATLAB's fitnet produces: x -> mapminmax -> tanh layers -> purelin -> reverse mapminmax.
"""

import numpy as np

from symnet import Input, Layer, MapMinMax, Network, Output
from symnet.reference.finite_differences import sample_points

SIZES = {
    "3-10-1": (3, 10, 1),
    "5-20-20-3": (5, 20, 20, 3),
    "2-64-64-64-1": (2, 64, 64, 64, 1),
    "20-256-256-10": (20, 256, 256, 10),
}

#: Points of a batch call, per net (the Hessians of 20-256-256-10 are 32 kB each).
BATCH = {"3-10-1": 10_000, "5-20-20-3": 10_000, "2-64-64-64-1": 4_000, "20-256-256-10": 1_000}


def batch_points(net, label, build, seed=7):
    """The batch of ``label``'s benchmark points (BATCH of them), also written to
    ``build/points.bin`` for the C harness; (points, that file)."""
    X = sample_points(net, BATCH[label], seed=seed)
    path = build / "points.bin"
    X.tofile(path)
    return X, path


def available(name):
    """True where the module ``name`` imports."""
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def mlp(label, seed=None):
    """The network ``label`` (a key of SIZES); the seed defaults to a fixed one per net."""
    sizes = SIZES[label]
    rng = np.random.default_rng(seed if seed is not None else 1000 + list(SIZES).index(label))
    n_in, n_out = sizes[0], sizes[-1]
    x_low = rng.uniform(-50, 50, n_in)
    x_span = 10.0 ** rng.uniform(-2, 2, n_in)
    layers = []
    for k in range(1, len(sizes)):
        weights = rng.normal(scale=1.5 / np.sqrt(sizes[k - 1]), size=(sizes[k], sizes[k - 1]))
        bias = rng.normal(scale=0.3, size=sizes[k])
        transfer = "purelin" if k == len(sizes) - 1 else "tansig"
        if k == 1:
            layers.append(Layer(sizes[k], transfer, bias, [(0, weights)]))
        else:
            layers.append(Layer(sizes[k], transfer, bias, layer_weights=[(k - 2, weights)]))
    y_low = rng.uniform(-10, 10, n_out)
    y_span = 10.0 ** rng.uniform(-1, 2, n_out)
    return Network([Input("x", n_in, [MapMinMax(x_low, 2.0 / x_span, -1.0)])], layers,
                   [Output("y", len(layers) - 1, [MapMinMax(y_low, 2.0 / y_span, -1.0)])],
                   name="mlp_" + label.replace("-", "_"))


def parts(net):
    """(x_offset, x_gain, x_ymin, [(W, b), ...], y_offset, y_gain, y_ymin) of an mlp()."""
    inp, out = net.inputs[0].steps[0], net.outputs[0].steps[0]
    layers = [(layer.input_weights[0][1] if layer.input_weights else layer.layer_weights[0][1], layer.bias)
              for layer in net.layers]
    return inp.xoffset, inp.gain, float(inp.ymin[0]), layers, out.xoffset, out.gain, float(out.ymin[0])


def hand_numpy_jacobian(net):
    """A hand-written vectorized NumPy Jacobian (reverse mode over a batch):
    X (n, n_in) -> J (n, n_out, n_in).  The reference the NumPy target is measured against."""
    x_offset, x_gain, x_ymin, layers, _, y_gain, _ = parts(net)
    last_w = layers[-1][0] / y_gain[:, None]

    def jacobian(X):
        a = (X - x_offset) * x_gain + x_ymin
        activations = []
        for W, b in layers[:-1]:
            a = np.tanh(a @ W.T + b)
            activations.append(a)
        g = last_w[None, :, :] * (1.0 - activations[-1] ** 2)[:, None, :]
        for (W, _), a in zip(reversed(layers[1:-1]), reversed(activations[:-1])):
            g = (g @ W) * (1.0 - a ** 2)[:, None, :]
        return (g @ layers[0][0]) * x_gain
    return jacobian
