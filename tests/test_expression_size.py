"""The derivative program grows linearly with depth (operation counts, not time)."""

import numpy as np

import symnet
from symnet import Input, Layer, MapMinMax, Network, Output


def chain(depth, width=4, n_in=3, seed=0):
    rng = np.random.default_rng(seed)
    layers = [Layer(width, "tansig", rng.normal(size=width), [(0, rng.normal(size=(width, n_in)))])]
    for _ in range(depth - 1):
        layers.append(Layer(width, "tansig", rng.normal(size=width), layer_weights=[(len(layers) - 1, rng.normal(size=(width, width)))]))
    layers.append(Layer(1, "purelin", rng.normal(size=1), layer_weights=[(len(layers) - 1, rng.normal(size=(1, width)))]))
    return Network([Input("x", n_in, [MapMinMax(np.zeros(n_in), np.ones(n_in), -1.0)])], layers,
                   [Output("y", len(layers) - 1, [MapMinMax([0.0], [2.0], -1.0)])])


def counts(what):
    return [symnet.derive(chain(depth), what).program.operation_count() for depth in range(1, 7)]


def assert_linear(values):
    increments = np.diff(values)
    assert np.all(increments > 0)
    # every added layer costs the same: equal increments after the first layers
    assert max(increments[1:]) == min(increments[1:]), values


def test_jacobian_operation_count_grows_linearly_with_depth():
    assert_linear(counts("jacobian"))


def test_hessian_operation_count_grows_linearly_with_depth():
    assert_linear(counts("hessian"))
