"""matlab/symnet_export.m run in GNU Octave on structs shaped like MATLAB network
objects, and symnet.load of the .mat files it writes.

Round trip: IR network -> Octave struct (same field names and cell layout as a
network object) -> symnet_export -> .mat -> symnet.load gives back every
number bit for bit; evaluation equals an Octave simulation of the struct
(tests/fixtures/matlab_network/simulate_network.m) and the Jacobian equals
finite differences of it. Refused content is named.
"""

from pathlib import Path

import numpy as np
import pytest

import symnet
from symnet import Input, Layer, MapMinMax, MapStd, Network, Output, RemoveConstantRows
from symnet.reference.finite_differences import compare, sample_points
from symnet.importers.json_format import network_to_dict

from conftest import REPO
from helpers import require_tool
from octave_runner import FiniteDifferencePlan, OctaveJob, run_octave

SIMULATOR = Path(__file__).parent / "fixtures" / "matlab_network"
TRANSFERS = ("tansig", "logsig", "purelin", "poslin", "satlin", "satlins", "radbas", "elliotsig", "softmax")


def input_chain(rng, size):
    """(steps, processed size) for ``size`` raw rows: none, mapminmax, mapstd, or removal then mapminmax."""
    choice = rng.integers(4)
    if choice == 0:
        return [], size
    if choice == 1:
        return [MapMinMax(rng.uniform(-50, 50, size), rng.uniform(0.01, 3, size), -1.0)], size
    if choice == 2:
        return [MapStd(rng.uniform(-5, 5, size), rng.uniform(0.2, 3, size), 0.0)], size
    removed = int(rng.integers(size + 1))
    keep = tuple(k for k in range(size + 1) if k != removed)
    return [RemoveConstantRows(size + 1, keep), MapMinMax(rng.uniform(-1, 1, size), rng.uniform(0.5, 2, size),
                                                          -1.0)], size


def output_chain(rng, size):
    choice = rng.integers(3)
    if choice == 0:
        return [MapMinMax(rng.uniform(-9, 9, size), rng.uniform(0.1, 2, size), -1.0)]
    if choice == 1:
        return [MapStd(rng.uniform(-9, 9, size), rng.uniform(0.1, 2, size), 0.0)]
    removed = int(rng.integers(size + 1))
    keep = tuple(k for k in range(size + 1) if k != removed)
    return [RemoveConstantRows(size + 1, keep, (float(rng.uniform(-3, 3)),)),
            MapMinMax(rng.uniform(-9, 9, size), rng.uniform(0.1, 2, size), -1.0)]


def matlab_network(seed):
    """A random network a MATLAB network object can hold: 1-2 inputs, 2-4 layers, cascade links,
    1-2 output layers, every processing function symnet reads."""
    rng = np.random.default_rng(seed)
    inputs, processed = [], []
    for i in range(int(rng.integers(1, 3))):
        steps, size = input_chain(rng, int(rng.integers(1, 4)))
        inputs.append(Input(f"x{i + 1}", steps[0].in_size if steps else size, steps))
        processed.append(size)
    layers, depth = [], int(rng.integers(2, 5))
    for i in range(depth):
        size = int(rng.integers(2, 5))
        transfer = "purelin" if i == depth - 1 else str(rng.choice(TRANSFERS))
        input_weights = [(j, rng.normal(scale=0.7, size=(size, n))) for j, n in enumerate(processed)
                         if i == 0 or rng.random() < 0.4]
        sources = [i - 1] if i else []
        sources += [j for j in range(i - 1) if rng.random() < 0.4]
        layer_weights = [(j, rng.normal(scale=0.7, size=(size, layers[j].size))) for j in sorted(sources)]
        layers.append(Layer(size, transfer, rng.normal(scale=0.4, size=size), input_weights, layer_weights,
                            name=f"layer{i + 1}"))
    output_layers = sorted({depth - 1} | ({int(rng.integers(depth - 1))} if rng.random() < 0.5 else set()))
    outputs = [Output(f"y{n + 1}", i, output_chain(rng, layers[i].size)) for n, i in enumerate(output_layers)]
    return Network(inputs, layers, outputs, name=f"net{seed}")


# --- the network as an Octave struct with a network object's fields -------------------------------

def literal(values):
    array = np.atleast_2d(np.asarray(values, dtype=float))
    return "[" + ";".join(" ".join("%.17g" % v for v in row) for row in array) + "]"


def column(values):
    return literal(np.reshape(values, (-1, 1)))


def settings_lines(target, step, side):
    """MATLAB-like processSettings: every field the toolbox stores (a name string among them)."""
    lines = [f"s = struct('name', '{step.kind}');"]
    if step.kind == "mapminmax":
        lines += [f"s.xrows = {step.in_size}; s.yrows = {step.in_size};", f"s.xoffset = {column(step.xoffset)};",
                  f"s.gain = {column(step.gain)};", f"s.ymin = {float(step.ymin[0])!r}; s.ymax = 1;",
                  f"s.xmin = {column(step.xoffset)}; s.xmax = {column(step.xoffset + 2 / step.gain)};",
                  "s.no_change = false;"]
    elif step.kind == "mapstd":
        lines += [f"s.xrows = {step.in_size}; s.yrows = {step.in_size};", f"s.xoffset = {column(step.xoffset)};",
                  f"s.gain = {column(step.gain)};", f"s.ymean = {float(step.ymean[0])!r}; s.ystd = 1;",
                  f"s.xmean = {column(step.xoffset)}; s.xstd = {column(1 / step.gain)};"]
    else:
        values = "constants" if step.n_rows % 2 else "value"     # both names occur in the toolbox's versions
        lines += [f"s.xrows = {step.n_rows}; s.yrows = {step.out_size};",
                  f"s.keep = {literal([[k + 1 for k in step.keep]])};",
                  f"s.remove = {literal([[k + 1 for k in step.removed]]) if step.removed else 'zeros(1,0)'};",
                  f"s.{values} = {column(step.constants) if step.constants else 'zeros(0,1)'};"]
    return lines + [f"{target} = s;"]


def port_lines(target, steps, side):
    lines = [f"{target} = struct();", f"{target}.processFcns = {{{', '.join(repr(s.kind) for s in steps)}}};",
             f"{target}.processSettings = cell(1, {len(steps)});"]
    for k, step in enumerate(steps, start=1):
        lines += settings_lines(f"{target}.processSettings{{{k}}}", step, side)
    return lines


def octave_struct(net, function_name):
    """An Octave function returning ``net`` as a struct shaped like a MATLAB network object."""
    n_in, n_layers = len(net.inputs), len(net.layers)
    connect_in, connect_layer = np.zeros((n_layers, n_in)), np.zeros((n_layers, n_layers))
    lines = [f"function net = {function_name}()", "net = struct();", f"net.name = '{net.name}';",
             f"net.numInputs = {n_in}; net.numLayers = {n_layers};",
             f"net.inputs = cell(1, {n_in}); net.layers = cell(1, {n_layers}); net.outputs = cell(1, {n_layers});",
             f"net.IW = cell({n_layers}, {n_in}); net.LW = cell({n_layers}, {n_layers}); net.b = cell({n_layers}, 1);",
             f"net.inputWeights = cell({n_layers}, {n_in}); net.layerWeights = cell({n_layers}, {n_layers});"]
    for i, inp in enumerate(net.inputs, start=1):
        lines += port_lines(f"net.inputs{{{i}}}", inp.steps, "input") + [f"net.inputs{{{i}}}.size = {inp.size};"]
    for i, layer in enumerate(net.layers, start=1):
        lines += [f"net.layers{{{i}}} = struct('size', {layer.size}, 'transferFcn', '{layer.transfer}',"
                  " 'netInputFcn', 'netsum');", f"net.b{{{i}}} = {column(layer.bias)};"]
        for kind, connections, grid in (("IW", layer.input_weights, connect_in), ("LW", layer.layer_weights,
                                                                                  connect_layer)):
            details = "inputWeights" if kind == "IW" else "layerWeights"
            for j, weights in connections:
                grid[i - 1, j] = 1
                lines += [f"net.{kind}{{{i},{j + 1}}} = {literal(weights)};",
                          f"net.{details}{{{i},{j + 1}}} = struct('delays', 0, 'weightFcn', 'dotprod');"]
    output_connect = np.zeros(n_layers)
    for output in net.outputs:
        output_connect[output.layer] = 1
        lines += port_lines(f"net.outputs{{{output.layer + 1}}}", output.steps, "output")
    lines += [f"net.biasConnect = {column(np.ones(n_layers))};", f"net.inputConnect = {literal(connect_in)};",
              f"net.layerConnect = {literal(connect_layer)};", f"net.outputConnect = {literal([output_connect])};"]
    return "\n".join(lines) + "\nend\n"


SEEDS = range(6)


def round_trip_job(net, directory, seed):
    (directory / f"make_net{seed}.m").write_text(octave_struct(net, f"make_net{seed}"))
    X = sample_points(net, 3, seed=seed)
    width = np.ptp(net.input_range(), axis=1)
    plan = FiniteDifferencePlan(X, 1e-4 * np.where(width > 0, width, 1.0))
    starts = np.cumsum([0] + [inp.size for inp in net.inputs])
    inputs = [plan.points[:, a:b] for a, b in zip(starts[:-1], starts[1:])]
    code = [f"net = make_net{seed}();", f"symnet_export(net, 'net{seed}.mat');",
            f"Y = simulate_network(net, {{{', '.join(f'x{k + 1}' for k in range(len(inputs)))}}});"]
    code += [f"y{k + 1} = Y{{{k + 1}}};" for k in range(len(net.outputs))]
    return plan, OctaveJob(directory, inputs, "\n".join(code), len(net.outputs), [REPO / "matlab", SIMULATOR])


REFUSALS = """net = make_net0();
symnet_export(net, 'good.mat');
load('good.mat');
original = symnet_network;
symnet_network.inputs{1}.processFcns{end + 1} = 'processpca';
symnet_network.inputs{1}.processSettings{end + 1} = struct('transform', 1);
save('-v7', 'processpca.mat', 'symnet_network');
symnet_network = original;
symnet_network.inputWeights{1,1}.delays = [0 1];
save('-v7', 'delays.mat', 'symnet_network');
symnet_network = original;
symnet_network.inputWeights{1,1}.delays = [1 -1];
save('-v7', 'negative_delay.mat', 'symnet_network');
symnet_network = original;
symnet_network.inputWeights{1,1}.weightFcn = 'dist';
save('-v7', 'dist.mat', 'symnet_network');
symnet_network = original;
symnet_network.layers{1}.netInputFcn = 'netprod';
symnet_network.layers{1}.transferFcn = 'radbas';
save('-v7', 'netprod.mat', 'symnet_network');
symnet_network = original;
symnet_network.layers{1}.transferFcn = 'hardlim';
save('-v7', 'hardlim.mat', 'symnet_network');
other = 1;
save('-v7', 'other.mat', 'other');
net.inputWeights{1,1}.delays = [1 2];
net.IW{1,1} = [net.IW{1,1} 2*net.IW{1,1}];
symnet_export(net, 'delayed.mat');
"""


@pytest.fixture(scope="module")
def octave_runs(tmp_path_factory):
    octave = require_tool("octave-cli")
    directory = tmp_path_factory.mktemp("mat")
    nets = {seed: matlab_network(seed) for seed in SEEDS}
    plans, jobs = {}, []
    for seed, net in nets.items():
        plans[seed], job = round_trip_job(net, directory, seed)
        jobs.append(job)
    jobs.append(OctaveJob(directory, [], REFUSALS, 0, [REPO / "matlab"]))
    results = run_octave(octave, jobs, directory)
    return directory, nets, plans, results


@pytest.mark.parametrize("seed", SEEDS)
def test_round_trip_is_exact_and_evaluates_like_octave(seed, octave_runs):
    directory, nets, plans, results = octave_runs
    if isinstance(results[seed], str):
        pytest.fail(f"Octave failed: {results[seed]}")
    original, loaded = nets[seed], symnet.load(directory / f"net{seed}.mat")
    assert network_to_dict(loaded) == network_to_dict(original)
    values, numeric = plans[seed].split(np.concatenate(results[seed], axis=1))
    X = plans[seed].X
    scale = np.maximum(np.max(np.abs(values), axis=0), np.finfo(float).tiny)
    assert np.max(np.abs(loaded.evaluate(X) - values) / scale) <= 1e-12
    assert compare(symnet.derive(loaded, "jacobian")(X), numeric).max_rel_error <= 1e-6


def test_the_generated_networks_cover_every_processing_and_output_kind(octave_runs):
    _, nets, _, _ = octave_runs
    kinds = {step.kind for net in nets.values() for port in net.inputs + net.outputs for step in port.steps}
    assert kinds == {"mapminmax", "mapstd", "removeconstantrows"}
    assert any(len(net.outputs) > 1 for net in nets.values())
    assert any(len(net.inputs) > 1 for net in nets.values())
    assert any(s < i - 1 for net in nets.values() for i, layer in enumerate(net.layers) for s, _ in layer.layer_weights)


@pytest.mark.parametrize("file_name, phrase", [
    ("processpca.mat", "processing function 'processpca' is not supported"),
    ("delays.mat", "layer 1: the weights from input 1 have 2 columns, but 2 delays of 2 values need 4"),
    ("negative_delay.mat", "IW{1,1} delays must be distinct whole numbers, not negative"),
    ("dist.mat", "IW{1,1} uses the weight function 'dist'"),
    ("netprod.mat", "layer 1 uses the net input function 'netprod'"),
    ("hardlim.mat", "unknown transfer function 'hardlim'"),
    ("other.mat", "no variable 'symnet_network'"),
])
def test_refused_content_is_named(file_name, phrase, octave_runs):
    directory = octave_runs[0]
    with pytest.raises(symnet.SymnetError) as caught:
        symnet.load(directory / file_name)
    assert str(caught.value).startswith(f"{directory / file_name}: ")
    assert phrase in str(caught.value) and "\n" not in str(caught.value)


def test_the_exporter_keeps_delays(octave_runs):
    directory, nets = octave_runs[:2]
    net = symnet.load(directory / "delayed.mat")
    static = nets[0]
    assert [inp.name for inp in net.inputs][:3] == ["x1", "x1_d1", "x1_d2"]
    taps = net.delays.inputs[0]
    weights = dict(net.layers[0].input_weights)
    assert taps.current not in weights
    original = dict(static.layers[0].input_weights)[0]
    assert np.array_equal(weights[taps.delayed[0]], original)
    assert np.array_equal(weights[taps.delayed[1]], 2 * original)


def test_a_file_that_is_not_a_mat_file(tmp_path):
    path = tmp_path / "broken.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file, but not really" + bytes(200))
    with pytest.raises(symnet.SymnetError, match="broken.mat: "):
        symnet.load(path)
