"""The layered strategy (weight arrays, layer-by-layer derivatives) against the
unrolled closed form, against finite differences of the direct numeric
evaluation, and by running the generated NumPy module."""

import numpy as np
import pytest

import symnet
from symnet import Input, Layer, MapMinMax, Network, Output
from symnet.reference.finite_differences import compare, finite_difference_hessian, finite_difference_jacobian
from symnet.cli import main
from symnet.importers.json_format import save_json
from symnet.emit.layered_common import LAYERED_FROM_PARAMETERS, resolve_strategy
from symnet.layered.network import layered_network
from symnet.layered.steps import written

from helpers import closed_form, ALL_TRANSFERS, SMOOTH_TRANSFERS, import_file, points_for, random_network

SEEDS = range(16)
WHAT = (("value", "evaluate"), ("jacobian", "jacobian"), ("hessian", "hessian"))


def layered_module(net, tmp_path, name="lay", derivatives=("value", "jacobian", "hessian")):
    symnet.generate(net, ["numpy"], tmp_path, derivatives=derivatives, name=name, strategy="layered")
    return import_file(tmp_path / f"{name}_numpy.py", f"{name}_{net.name}_{id(tmp_path)}")


def assert_close(actual, expected, rtol=1e-12):
    scale = np.abs(expected).max() + 1e-300
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("seed", SEEDS)
def test_layered_numpy_matches_unrolled_and_finite_differences(seed, tmp_path):
    net = random_network(seed, transfers=ALL_TRANSFERS)
    module = layered_module(net, tmp_path)
    X = points_for(net, count=4, seed=seed)
    for what, function in WHAT:
        assert_close(getattr(module, function)(X), closed_form(net, what)(X))
    assert_close(module.evaluate(X), net.evaluate(X))
    if all(layer.transfer in SMOOTH_TRANSFERS + ("softmax",) for layer in net.layers):
        assert compare(module.jacobian(X), finite_difference_jacobian(net, X)).max_rel_error < 1e-6
        fd_hessian = finite_difference_hessian(module.jacobian, net, X)
        assert compare(module.hessian(X), fd_hessian).max_rel_error < 1e-6


def test_random_networks_cover_both_accumulation_modes_cascades_and_several_outputs():
    nets = [random_network(seed, transfers=ALL_TRANSFERS) for seed in SEEDS]
    modes = {layered_network(net).jacobian_mode for net in nets}
    assert modes == {"forward", "reverse"}
    assert any(len(net.outputs) > 1 for net in nets)
    assert any(len(layer.input_weights) and index > 0 for net in nets for index, layer in enumerate(net.layers))
    assert any(layer.transfer == "softmax" for net in nets for layer in net.layers)


def mlp(sizes, seed=0, offset=0.0, span=2.0):
    rng = np.random.default_rng(seed)
    n_in = sizes[0]
    layers = [Layer(sizes[1], "tansig", rng.normal(size=sizes[1]), [(0, rng.normal(size=(sizes[1], n_in)))])]
    for k in range(2, len(sizes)):
        transfer = "purelin" if k == len(sizes) - 1 else "tansig"
        layers.append(Layer(sizes[k], transfer, rng.normal(size=sizes[k]),
                            layer_weights=[(k - 2, rng.normal(size=(sizes[k], sizes[k - 1])))]))
    x_offset = offset + rng.uniform(-1, 1, n_in)
    return Network([Input("x", n_in, [MapMinMax(x_offset, np.full(n_in, 2.0 / span), -1.0)])], layers,
                   [Output("y", len(layers) - 1, [MapMinMax(rng.uniform(-3, 3, sizes[-1]),
                                                            rng.uniform(0.1, 3, sizes[-1]), -1.0)])],
                   name="mlp")


@pytest.mark.parametrize("sizes", [(2, 6, 5, 4), (5, 6, 5, 1), (3, 4, 3)])
def test_forward_and_reverse_accumulation_of_an_mlp(sizes, tmp_path):
    net = mlp(sizes)
    expected_mode = "forward" if sizes[0] <= sizes[-1] else "reverse"
    assert layered_network(net).jacobian_mode == expected_mode
    module = layered_module(net, tmp_path)
    X = points_for(net, count=5)
    for what, function in WHAT:
        assert_close(getattr(module, function)(X), closed_form(net, what)(X))
    assert compare(module.jacobian(X), finite_difference_jacobian(net, X)).max_rel_error < 1e-6
    assert compare(module.hessian(X), finite_difference_hessian(module.jacobian, net, X)).max_rel_error < 1e-6


def test_normalization_is_folded_into_the_first_and_last_layers():
    net = mlp((3, 4, 2))
    folded = layered_network(net)
    assert all(block.plain for block in folded.outputs)
    first = net.layers[0]
    gain = net.inputs[0].steps[0].gain
    np.testing.assert_allclose(folded.layers[0].input_weights, first.input_weights[0][1] * gain, rtol=1e-15)
    np.testing.assert_array_equal(folded.offset, net.inputs[0].steps[0].xoffset)


def test_inputs_far_from_zero_lose_no_digits(tmp_path):
    """z = x - offset stays a subtraction, so W·gain·x never cancels against the bias."""
    net = mlp((2, 5, 1), offset=1e6, span=1e-3)
    module = layered_module(net, tmp_path)
    X = points_for(net, count=5)
    for what, function in WHAT:
        assert_close(getattr(module, function)(X), closed_form(net, what)(X), rtol=1e-11)


def test_a_linear_network_has_a_constant_jacobian(tmp_path):
    net = Network([Input("x", 2, [MapMinMax([1.0, -2.0], [0.5, 4.0], -1.0)])],
                  [Layer(3, "purelin", [0.1, 0.2, 0.3], [(0, [[1.0, 2.0], [0.5, -1.0], [3.0, 0.25]])]),
                   Layer(1, "purelin", [0.4], layer_weights=[(0, [[1.0, -2.0, 0.5]])])],
                  [Output("y", 1, [MapMinMax([1.0], [2.0], -1.0)])], name="linear")
    module = layered_module(net, tmp_path)
    X = points_for(net, count=3)
    J = module.jacobian(X)
    assert np.all(J == J[0])
    assert_close(J, closed_form(net, "jacobian")(X))
    assert np.all(module.hessian(X) == 0.0)


def test_batch_shapes_follow_the_unrolled_module(tmp_path):
    net = mlp((3, 4, 2))
    module = layered_module(net, tmp_path)
    X = points_for(net, count=6).reshape(2, 3, 3)
    assert module.evaluate(X).shape == (2, 3, 2)
    assert module.jacobian(X).shape == (2, 3, 2, 3)
    assert module.hessian(X).shape == (2, 3, 2, 3, 3)
    assert module.jacobian(X[0, 0]).shape == (2, 3)


def test_gradient_of_a_single_output_network(tmp_path):
    net = mlp((4, 5, 1))
    module = layered_module(net, tmp_path, derivatives=("gradient",))
    X = points_for(net, count=3)
    assert_close(module.gradient(X), closed_form(net, "gradient")(X))


def test_generation_is_deterministic(tmp_path):
    net = random_network(5)
    first = (layered_module(net, tmp_path / "a"), (tmp_path / "a" / "lay_numpy.py").read_bytes())[1]
    second = (layered_module(net, tmp_path / "b"), (tmp_path / "b" / "lay_numpy.py").read_bytes())[1]
    assert first == second


def test_auto_strategy_follows_the_parameter_threshold():
    assert resolve_strategy("auto", mlp((3, 4, 2))) == "unrolled"
    big = mlp((4, 16, 16, 2))
    assert big.parameter_count >= LAYERED_FROM_PARAMETERS
    assert resolve_strategy("auto", big) == "layered"
    assert resolve_strategy("unrolled", big) == "unrolled"
    with pytest.raises(symnet.UnsupportedError, match="unknown strategy 'fast'"):
        resolve_strategy("fast", big)


def test_command_line_strategy_option(tmp_path, capsys):
    model = tmp_path / "m.json"
    save_json(mlp((3, 4, 2)), model)
    assert main(["generate", str(model), "--target", "numpy", "--strategy", "layered",
                 "--out", str(tmp_path / "out"), "--name", "m"]) == 0
    assert "W1_x = numpy.array(" in (tmp_path / "out" / "m_numpy.py").read_text()
    with pytest.raises(SystemExit):
        main(["generate", str(model), "--target", "numpy", "--strategy", "fast"])
    assert "invalid choice: 'fast'" in capsys.readouterr().err


class _OddStep:
    """A processing step the layered form does not know (duck-typed)."""
    kind = "odd"
    numeric_fields = ()

    def __init__(self, size):
        self.in_size = self.out_size = size

    def apply(self, rows, bind=None):
        return [r * r for r in rows]


def test_a_step_the_layered_form_cannot_hold_is_refused_or_left_unrolled():
    net = mlp((4, 16, 16, 2))
    odd = Network([Input("x", 4, [_OddStep(4)])], net.layers, net.outputs, name="odd")
    assert resolve_strategy("auto", odd) == "unrolled"
    with pytest.raises(symnet.UnsupportedError, match="does not support the processing step 'odd'"):
        resolve_strategy("layered", odd)


def test_scheduling_a_deep_network_scans_its_steps_once(monkeypatch):
    """Which arrays a program writes was worked out again for every array, quadratic in the depth
    (3000 one-unit layers: over 100 s per target); it is worked out once per program."""
    import symnet.layered.schedule as schedule
    from symnet.layered.schedule import layered_program
    calls = []
    monkeypatch.setattr(schedule, "written", lambda steps: calls.append(len(steps)) or written(steps))
    rng = np.random.default_rng(0)
    layers = [Layer(1, "tansig", rng.normal(size=1), [(0, rng.normal(size=(1, 2)))], [])]
    layers += [Layer(1, "tansig", rng.normal(size=1), [], [(i, rng.normal(size=(1, 1)))]) for i in range(59)]
    net = Network([Input("x", 2, [])], layers, [Output("y", 59, [])])
    program = layered_program(layered_network(net), "jacobian")
    assert len(program.steps) > 100 and len(calls) == 1
