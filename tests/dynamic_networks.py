"""Dynamic networks as MATLAB builds them (timedelaynet, narxnet open and closed loop, layrecnet,
distdelaynet),
with random weights, as one-step maps (symnet.ir.delays.one_step_network)."""

import numpy as np

from symnet import Input, MapMinMax, Output, RemoveConstantRows
from symnet.ir.delays import DynamicLayer, TappedWeights, one_step_network


def _weights(rng, rows, columns):
    return rng.normal(scale=1 / np.sqrt(columns), size=(rows, columns))


def _minmax(rng, size):
    low = rng.uniform(-3, 1, size)
    return MapMinMax(low, 2 / rng.uniform(0.5, 4, size), -1.0)


def timedelaynet(seed=1, delays=(1, 2), hidden=4):
    """timedelaynet(1:2,4): a 2-row input (mapminmax) through a tap delay line, one output."""
    rng = np.random.default_rng(seed)
    x = Input("x1", 2, [_minmax(rng, 2)])
    layers = [DynamicLayer(hidden, "tansig", rng.normal(size=hidden),
                           [TappedWeights(0, delays, _weights(rng, hidden, 2 * len(delays)))]),
              DynamicLayer(1, "purelin", rng.normal(size=1), (),
                           [TappedWeights(0, (0,), _weights(rng, 1, hidden))])]
    return one_step_network([x], layers, [Output("y1", 1, [_minmax(rng, 1)])], name="tdnn")


def narxnet_open(seed=2, hidden=3):
    """narxnet(1:2,1:2,3) open loop: the exogenous input (3 rows, one constant: removeconstantrows
    then mapminmax) and the measured output fed in as input 2."""
    rng = np.random.default_rng(seed)
    x = Input("x1", 3, [RemoveConstantRows(3, (0, 2)), _minmax(rng, 2)])
    feedback_steps = [_minmax(rng, 1)]
    y = Input("x2", 1, feedback_steps)
    layers = [DynamicLayer(hidden, "tansig", rng.normal(size=hidden),
                           [TappedWeights(0, (1, 2), _weights(rng, hidden, 4)),
                            TappedWeights(1, (1, 2), _weights(rng, hidden, 2))]),
              DynamicLayer(1, "purelin", rng.normal(size=1), (), [TappedWeights(0, (0,), _weights(rng, 1, hidden))])]
    return one_step_network([x, y], layers, [Output("y1", 1, feedback_steps)], name="narx_open")


def narxnet_closed(seed=2, hidden=3):
    """closeloop(narxnet(1:2,1:2,3)): the output layer fed back to layer 1 through delays 1:2."""
    rng = np.random.default_rng(seed)
    x = Input("x1", 3, [RemoveConstantRows(3, (0, 2)), _minmax(rng, 2)])
    feedback_steps = [_minmax(rng, 1)]
    layers = [DynamicLayer(hidden, "tansig", rng.normal(size=hidden),
                           [TappedWeights(0, (1, 2), _weights(rng, hidden, 4))],
                           [TappedWeights(1, (1, 2), _weights(rng, hidden, 2))]),
              DynamicLayer(1, "purelin", rng.normal(size=1), (), [TappedWeights(0, (0,), _weights(rng, 1, hidden))])]
    return one_step_network([x], layers, [Output("y1", 1, feedback_steps)], name="narx_closed")


def layrecnet(seed=3, hidden=3):
    """layrecnet(1:2,3): the hidden layer fed back to itself through delays 1:2; two outputs rows."""
    rng = np.random.default_rng(seed)
    x = Input("x1", 2, [_minmax(rng, 2)])
    layers = [DynamicLayer(hidden, "tansig", rng.normal(size=hidden),
                           [TappedWeights(0, (0,), _weights(rng, hidden, 2))],
                           [TappedWeights(0, (1, 2), 0.5 * _weights(rng, hidden, 2 * hidden))]),
              DynamicLayer(2, "purelin", rng.normal(size=2), (), [TappedWeights(0, (0,), _weights(rng, 2, hidden))])]
    return one_step_network([x], layers, [Output("y1", 1, [_minmax(rng, 2)])], name="layrec")


def distdelaynet(seed=4, hidden=3):
    """distdelaynet({0:2, 0:2}, 3): tap delays on the input and on the layer 1 -> 2 connection."""
    rng = np.random.default_rng(seed)
    x = Input("x1", 1, [_minmax(rng, 1)])
    layers = [DynamicLayer(hidden, "tansig", rng.normal(size=hidden),
                           [TappedWeights(0, (0, 1, 2), _weights(rng, hidden, 3))]),
              DynamicLayer(1, "purelin", rng.normal(size=1), (),
                           [TappedWeights(0, (0, 1, 2), _weights(rng, 1, 3 * hidden))])]
    return one_step_network([x], layers, [Output("y1", 1, [_minmax(rng, 1)])], name="distdelay")


NETWORKS = {"timedelaynet": timedelaynet, "narxnet_open": narxnet_open, "narxnet_closed": narxnet_closed,
            "layrecnet": layrecnet, "distdelaynet": distdelaynet}
