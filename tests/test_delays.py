"""The one-step map of a dynamic network (symnet.ir.delays) and its state advance
(symnet.simulate, symnet.rollout_jacobian) on small networks derived by hand."""

import numpy as np
import pytest

import symnet
from symnet import Input, Output
from symnet.ir.delays import DelayLayout, DynamicLayer, InputTaps, TappedWeights, one_step_network


def tapped_line(w1, w2):
    """y(t) = w1*x(t-1) + w2*x(t-2): one purelin layer over a tap delay line."""
    layer = DynamicLayer(1, "purelin", [0.0], [TappedWeights(0, (1, 2), [[w1, w2]])])
    return one_step_network([Input("x1", 1)], [layer], [Output("y1", 0)], name="taps")


def feedback(a, b):
    """y(t) = a*y(t-1) + b*x(t): a purelin layer fed back to itself (layrecnet with delay 1)."""
    layer = DynamicLayer(1, "purelin", [0.0], [TappedWeights(0, (0,), [[b]])], [TappedWeights(0, (1,), [[a]])])
    return one_step_network([Input("u", 1)], [layer], [Output("y", 0)], name="recurrent")


def test_the_one_step_map_names_every_tap():
    net = tapped_line(2.0, 3.0)
    assert [inp.name for inp in net.inputs] == ["x1", "x1_d1", "x1_d2"]
    assert net.delays.state_inputs() == (1, 2) and net.delays.current_inputs() == (0,)
    recurrent = feedback(0.5, 1.0)
    assert [inp.name for inp in recurrent.inputs] == ["u", "a1_d1"]
    assert [out.name for out in recurrent.outputs] == ["y", "a1"]


def test_a_tap_delay_line_over_a_sequence_by_hand():
    w1, w2 = 2.0, 3.0
    x = np.array([1.0, -1.0, 4.0, 0.5])
    x_minus1, x_minus2 = 7.0, 5.0         # initial state: x(0), x(-1)
    Y, final = symnet.simulate(tapped_line(w1, w2), x.reshape(1, -1, 1), [[x_minus1, x_minus2]])
    history = [x_minus2, x_minus1] + list(x)
    expected = [w1 * history[t + 1] + w2 * history[t] for t in range(len(x))]
    assert np.allclose(Y[0, :, 0], expected, rtol=0, atol=1e-14)
    assert np.allclose(final, [[x[-1], x[-2]]], rtol=0, atol=0)


def test_a_recurrent_layer_s_rollout_jacobian_by_hand():
    a, b, k = 0.5, 2.0, 4
    x = np.array([1.0, 2.0, -1.0, 3.0]).reshape(1, k, 1)
    rollout = symnet.rollout_jacobian(feedback(a, b), x, [[1.5]])
    # y(t) = a^t y(0) + sum_s a^(t-s) b x(s): dy(t)/dy(0) = a^t, dy(t)/dx(s) = a^(t-s) b for s <= t
    for t in range(1, k + 1):
        assert rollout.d_outputs_d_state[0, t - 1, 0, 0] == pytest.approx(a ** t, abs=1e-15)
        for s in range(1, k + 1):
            expected = a ** (t - s) * b if s <= t else 0.0
            assert rollout.d_outputs_d_inputs[0, t - 1, 0, s - 1, 0] == pytest.approx(expected, abs=1e-15)
    assert rollout.d_final_d_state[0, 0, 0] == pytest.approx(a ** k, abs=1e-15)
    y = 1.5
    for value in x[0, :, 0]:
        y = a * y + b * value
    assert rollout.final_state[0, 0] == pytest.approx(y, abs=1e-14)


def one_layer(weights, layer_weights=(), size=1):
    layer = DynamicLayer(1, "purelin", [0.0], weights, layer_weights)
    return lambda: one_step_network([Input("x1", size)], [layer], [Output("y1", 0)])


def listed_taps_only():
    layer = symnet.Layer(1, "purelin", [0.0], [(0, [[1.0]]), (1, [[1.0]])])
    layout = DelayLayout([InputTaps(0, ())], (), (0,))
    return symnet.Network([Input("x1", 1), Input("x1_d1", 1)], [layer], [Output("y1", 0)], delays=layout)


@pytest.mark.parametrize("build, phrase", [
    (one_layer([TappedWeights(0, (1, 2), [[1.0, 2.0]])], size=2),
     "the weights from input 1 have 2 columns, but 2 delays of 2 values need 4"),
    (one_layer([TappedWeights(0, (1, 1), [[1.0, 2.0]])]), "tap delays [1, 1] must be distinct"),
    (one_layer([TappedWeights(0, (0,), [[1.0]])], [TappedWeights(0, (0,), [[1.0]])]),
     "layer 1 takes layer 1 without a delay"),
    (listed_taps_only, "must name every input"),
])
def test_inconsistent_one_step_maps_are_refused(build, phrase):
    with pytest.raises(symnet.ModelFormatError, match=phrase.replace("[", r"\[").replace("]", r"\]")):
        build()


def test_a_static_network_has_no_state_to_simulate():
    net = symnet.Network([Input("x1", 1)], [symnet.Layer(1, "purelin", [0.0], [(0, [[1.0]])])], [Output("y1", 0)])
    with pytest.raises(symnet.UnsupportedError, match="static network"):
        symnet.simulate(net, np.zeros((1, 2, 1)), np.zeros((1, 0)))
