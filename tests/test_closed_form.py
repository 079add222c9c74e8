"""The one-hidden-layer fitnet against its hand-derived Jacobian
dy/dx = diag(1/gain_y)·LW·diag(1 - h²)·IW·diag(gain_x)."""

import numpy as np
import pytest

import symnet
from symnet import Input, Layer, MapMinMax, Network, Output


def fitnet(seed, n_in=3, hidden=7, n_out=2):
    rng = np.random.default_rng(seed)
    x_offset = rng.uniform(-100, 100, n_in)
    spans = 10.0 ** np.linspace(-3, 3, n_in) * rng.uniform(0.5, 2.0, n_in)  # very different scales
    x_gain = 2.0 / spans
    y_offset = rng.uniform(-10, 10, n_out)
    y_gain = 2.0 / rng.uniform(1e-2, 1e2, n_out)
    IW, b1 = rng.normal(size=(hidden, n_in)), rng.normal(size=hidden)
    LW, b2 = rng.normal(size=(n_out, hidden)), rng.normal(size=n_out)
    net = Network(
        [Input("x", n_in, [MapMinMax(x_offset, x_gain, -1.0)])],
        [Layer(hidden, "tansig", b1, [(0, IW)]), Layer(n_out, "purelin", b2, layer_weights=[(0, LW)])],
        [Output("y", 1, [MapMinMax(y_offset, y_gain, -1.0)])])
    constants = dict(x_offset=x_offset, x_gain=x_gain, y_offset=y_offset, y_gain=y_gain,
                     IW=IW, b1=b1, LW=LW, b2=b2)
    X = x_offset + rng.random((6, n_in)) * 2.0 / x_gain
    return net, constants, X


def hand_jacobian(c, x, with_normalization=True):
    xn = (x - c["x_offset"]) * c["x_gain"] - 1.0 if with_normalization else x
    h = np.tanh(c["b1"] + c["IW"] @ xn)
    core = c["LW"] @ np.diag(1 - h**2) @ c["IW"]
    if not with_normalization:
        return core
    return np.diag(1 / c["y_gain"]) @ core @ np.diag(c["x_gain"])


@pytest.mark.parametrize("seed", range(5))
def test_jacobian_equals_hand_derived_closed_form(seed):
    net, c, X = fitnet(seed)
    J = symnet.derive(net, "jacobian")(X)
    for s, x in enumerate(X):
        expected = hand_jacobian(c, x)
        np.testing.assert_allclose(J[s], expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_ignoring_the_normalization_is_off_by_the_gain_ratio():
    net, c, X = fitnet(11)
    J = symnet.derive(net, "jacobian")(X)
    xn = (X - c["x_offset"]) * c["x_gain"] - 1.0
    naive = np.array([hand_jacobian(c, x, with_normalization=False) for x in xn])
    ratio = naive / J
    expected_ratio = c["y_gain"][:, None] / c["x_gain"][None, :]
    np.testing.assert_allclose(ratio, np.broadcast_to(expected_ratio, ratio.shape), rtol=1e-9)
    assert np.max(np.abs(np.log10(np.abs(expected_ratio)))) > 2  # orders of magnitude, not a rounding
