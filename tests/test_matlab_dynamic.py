"""MATLAB time-series networks (timedelaynet, narxnet, layrecnet) read from genFunction files.

A dynamic network is read as its one-step map: a static Network whose raw inputs are the
current inputs and every delay state, and whose outputs are the network's outputs and the
layer outputs that are fed back. GNU Octave runs the same files over sequences; symnet's
values and Jacobians must match them.
"""

import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest

import symnet
from symnet.dynamic import state_map, step_inputs
from symnet.reference.finite_differences import compare

from conftest import REPO
from dynamic_networks import NETWORKS
from helpers import import_file, require_tool
from octave_runner import FiniteDifferencePlan, OctaveJob, run_octave
from runners import STRICT_C

WRITER = import_file(REPO / "examples" / "write_genfunction.py", "write_genfunction")

STATIC_WITH_IGNORED_STATES = """function [Y,Xf,Af] = {name}(X,~,~)
b1 = [0.1;0.2];
IW1_1 = [1 2 3;4 5 6];
b2 = 0.3;
LW2_1 = [1 -1];
Q = size(X,2);
a1 = tansig_apply(repmat(b1,1,Q) + IW1_1*X);
Y = repmat(b2,1,Q) + LW2_1*a1;
Xf = [];
Af = cell(2,0);
end

function a = tansig_apply(n,~)
a = 2 ./ (1 + exp(-2*n)) - 1;
end
"""


def test_a_static_network_with_ignored_delay_states_matches_octave(tmp_path):
    octave = require_tool("octave-cli")
    path = tmp_path / "ignored_states.m"
    path.write_text(STATIC_WITH_IGNORED_STATES.format(name=path.stem))
    net = symnet.load(path)
    assert [inp.name for inp in net.inputs] == ["X"] and [out.name for out in net.outputs] == ["Y"]
    X = np.random.default_rng(4).normal(size=(5, 3))
    job = OctaveJob(tmp_path, [X], f"[y1,xf,af] = {path.stem}(x1);\nassert(isempty(xf) && isempty(af));", 1)
    result = run_octave(octave, [job], tmp_path)[0]
    assert not isinstance(result, str), result
    assert np.max(np.abs(net.evaluate(X) - result[0])) <= 1e-14


@pytest.mark.parametrize("edit, problem, phrase", [
    ("Xf = [];", "Xf = [1 2];", "Xf holds delay states"),
    ("Xf = [];", "", "'Xf' is never assigned"),
    ("(X,~,~)", "(~,X,~)", "no network inputs"),
    ("(X,~,~)", "(X,~,W)", "an ignored parameter '~' before a network input"),
])
def test_a_static_network_s_states_must_be_empty_and_ignored_last(edit, problem, phrase, tmp_path):
    path = tmp_path / "bad_states.m"
    path.write_text(STATIC_WITH_IGNORED_STATES.replace(edit, problem).format(name=path.stem))
    with pytest.raises(symnet.SymnetError) as caught:
        symnet.load(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert phrase in message


# --- dynamic networks: Octave runs the files written by examples/write_genfunction.py -----------

SERIES, STEPS, FD_STEP = 3, 4, 1e-4
MUTANTS = 600


class DynamicCase:
    """A dynamic network written as a genFunction file, read back, and the Octave code that runs
    it over sequences. Octave's argument is one packed column per series:
    [x(1); ...; x(T); state] with the state in symnet's order (Xi{k,D} first: x_k(t-1)); its
    result is [y(1); ...; y(T); final state] in the same order. ``form``: "cell" (the file
    MATLAB's genFunction writes by default) or "matrix" ('MatrixOnly','yes': one series a call)."""

    def __init__(self, kind, directory, steps, form="cell"):
        self.original = NETWORKS[kind]()
        path = directory / f"{kind}_{steps}_{form}.m"
        write = WRITER.dynamic_matrix_text if form == "matrix" else WRITER.dynamic_genfunction_text
        path.write_text(write(self.original, path.stem))
        self.read(path, steps, form, seed=len(kind) + steps)
        self.plan = FiniteDifferencePlan(self.points, np.full(self.points.shape[1], FD_STEP))
        self.job = OctaveJob(directory, [self.plan.points], self.octave_code(), 1)

    def read(self, path, steps, form, seed):
        """Load ``path`` and draw a sequence and initial states for its layout."""
        self.path, self.steps, self.form = path, steps, form
        self.net = symnet.load(path)
        layout = self.net.delays
        self.n_x = sum(self.net.inputs[i].size for i in layout.current_inputs())
        self.n_state = sum(self.net.inputs[i].size for i in layout.state_inputs())
        rng = np.random.default_rng(seed)
        self.X = rng.uniform(-1, 1, size=(SERIES, steps, self.n_x))
        self.state = rng.uniform(-1, 1, size=(SERIES, self.n_state))
        self.points = np.concatenate([self.X.reshape(SERIES, -1), self.state], axis=1)

    @classmethod
    def of_file(cls, path, steps, form):
        """A case of a file as it is (no finite differences): ``None`` if symnet refuses it."""
        case = cls.__new__(cls)
        try:
            case.read(path, steps, form, seed=steps)
        except symnet.SymnetError as error:
            assert getattr(error, "line", None) or ":" in str(error).split(" ")[0], error
            return None
        case.job = OctaveJob(path.parent, [case.points], case.octave_code(), 1)
        return case

    def pieces(self):
        """(MATLAB cell element, rows) in packing order: inputs step by step, then the state."""
        net, layout = self.net, self.net.delays
        found = [(f"X{{{k},{t}}}", net.inputs[taps.current].size) for t in range(1, self.steps + 1)
                 for k, taps in enumerate(layout.inputs, start=1)]
        D, L = layout.input_delays, layout.layer_delays
        found += [(f"Xi{{{k},{D + 1 - d}}}", net.inputs[i].size) for k, taps in enumerate(layout.inputs, start=1)
                  for d, i in enumerate(taps.delayed, start=1)]
        found += [(f"Ai{{{taps.layer + 1},{L + 1 - d}}}", net.inputs[i].size) for taps in layout.layers
                  for d, i in enumerate(taps.delayed, start=1)]
        return found

    def octave_code(self):
        return self.matrix_code() if self.form == "matrix" else self.cell_code()

    def matrix_code(self):
        """One call per series: inputs as rows x TS matrices, states as rows x D matrices."""
        layout, net = self.net.delays, self.net
        D, L = layout.input_delays, layout.layer_delays
        fed_back = sorted(taps.layer + 1 for taps in layout.layers)
        lines = ["packed = x1;", "result = [];", "for q = 1:size(packed,2)"]
        lines += [f"  x{k} = zeros({net.inputs[t.current].size},{self.steps});" for k, t in enumerate(layout.inputs, 1)]
        lines += [f"  xi{k} = zeros({net.inputs[t.current].size},{D});" for k, t in enumerate(layout.inputs, 1) if D]
        lines += [f"  ai{j} = zeros({net.layers[j - 1].size},{L});" for j in fed_back]
        start = 0
        for element, rows in self.pieces():
            lines.append(f"  {_matrix_element(element)} = packed({start + 1}:{start + rows},q);")
            start += rows
        params = [f"x{k}" for k in range(1, len(layout.inputs) + 1)]
        params += [f"xi{k}" for k in range(1, len(layout.inputs) + 1) if D] + [f"ai{j}" for j in fed_back]
        outs = [f"y{o}" for o in range(1, len(layout.outputs) + 1)]
        outs += [f"xf{k}" for k in range(1, len(layout.inputs) + 1) if D] + [f"af{j}" for j in fed_back]
        lines.append(f"  [{','.join(outs)}] = {self.path.stem}({','.join(params)});")
        results = [f"y{o}(:,{t})" for t in range(1, self.steps + 1) for o in range(1, len(layout.outputs) + 1)]
        results += [_matrix_element(element.replace("Xi", "Xf").replace("Ai", "Af")) for element, _ in self.pieces()
                    if not element.startswith("X{")]
        lines += [f"  result(:,q) = [{'; '.join(results)}];", "end", "y1 = result;"]
        return "\n".join(lines)

    def cell_code(self):
        layout = self.net.delays
        lines = [f"X = cell({len(layout.inputs)},{self.steps});",
                 f"Xi = cell({len(layout.inputs)},{layout.input_delays});",
                 f"Ai = cell({len(self.net.layers)},{layout.layer_delays});"]
        start = 0
        for element, rows in self.pieces():
            lines.append(f"{element} = x1({start + 1}:{start + rows},:);")
            start += rows
        lines.append(f"[Y,Xf,Af] = {self.path.stem}(X,Xi,Ai);")
        results = [f"Y{{{o},{t}}}" for t in range(1, self.steps + 1) for o in range(1, len(layout.outputs) + 1)]
        results += [element.replace("Xi", "Xf").replace("Ai", "Af") for element, _ in self.pieces()
                    if not element.startswith("X{")]
        lines.append(f"y1 = [{'; '.join(results)}];")
        return "\n".join(lines)


def _matrix_element(element):
    """X{2,3} -> x2(:,3), Xf{1,2} -> xf1(:,2), Ai{2,1} -> ai2(:,1)."""
    name, row, column = re.fullmatch(r"(\w+)\{(\d+),(\d+)\}", element).groups()
    return f"{name.lower()}{row}(:,{column})"


@pytest.fixture(scope="module")
def dynamic_runs(tmp_path_factory):
    octave = require_tool("octave-cli")
    directory = tmp_path_factory.mktemp("dynamic")
    cases = {(kind, steps, form): DynamicCase(kind, directory, steps, form)
             for kind in NETWORKS for steps in (1, STEPS) for form in ("cell", "matrix")}
    results = run_octave(octave, [case.job for case in cases.values()], directory)
    runs = {}
    for key, case in cases.items():
        result = results[len(runs)]
        if isinstance(result, str):
            pytest.fail(f"Octave failed on {case.path.name}: {result}")
        runs[key] = (case, *case.plan.split(result[0]))
    return runs


@pytest.mark.parametrize("form", ["cell", "matrix"])
@pytest.mark.parametrize("kind", list(NETWORKS))
def test_the_reader_reads_back_the_network_written(kind, form, dynamic_runs):
    case = dynamic_runs[(kind, STEPS, form)][0]
    original, net = case.original, case.net
    assert [inp.name for inp in net.inputs] == [inp.name for inp in original.inputs]
    assert [out.name for out in net.outputs] == [out.name for out in original.outputs]
    assert net.delays == original.delays
    points = np.random.default_rng(0).uniform(-1, 1, size=(4, net.n_inputs))
    assert np.array_equal(net.evaluate(points), original.evaluate(points))


@pytest.mark.parametrize("form", ["cell", "matrix"])
@pytest.mark.parametrize("kind", list(NETWORKS))
def test_simulation_over_a_sequence_equals_octave(kind, form, dynamic_runs):
    case, values, _ = dynamic_runs[(kind, STEPS, form)]
    Y, final = symnet.simulate(case.net, case.X, case.state)
    ours = np.concatenate([Y.reshape(SERIES, -1), final], axis=1)
    scale = np.maximum(np.abs(values), 1.0)
    assert ours.shape == values.shape
    assert np.max(np.abs(ours - values) / scale) <= 1e-12


def rollout_matrix(rollout, series):
    """The rollout's Jacobians as one matrix in the packing order of DynamicCase."""
    r = rollout
    k, n_y = r.outputs.shape[1:]
    n_x, n_state = r.d_outputs_d_inputs.shape[-1], r.final_state.shape[1]
    top = np.concatenate([r.d_outputs_d_inputs[series].reshape(k * n_y, k * n_x),
                          r.d_outputs_d_state[series].reshape(k * n_y, n_state)], axis=1)
    bottom = np.concatenate([r.d_final_d_inputs[series].reshape(n_state, k * n_x), r.d_final_d_state[series]], axis=1)
    return np.concatenate([top, bottom])


@pytest.mark.parametrize("form", ["cell", "matrix"])
@pytest.mark.parametrize("steps", [1, STEPS])
@pytest.mark.parametrize("kind", list(NETWORKS))
def test_rollout_jacobian_equals_finite_differences_of_octave(kind, steps, form, dynamic_runs):
    case, _, numeric = dynamic_runs[(kind, steps, form)]
    rollout = symnet.rollout_jacobian(case.net, case.X, case.state)
    exact = np.stack([rollout_matrix(rollout, q) for q in range(SERIES)])
    result = compare(exact, numeric)
    assert result.max_rel_error <= 1e-6, result


@pytest.mark.parametrize("kind", list(NETWORKS))
def test_one_step_jacobian_is_the_network_s_jacobian(kind, dynamic_runs):
    """The one-step map's own Jacobian (what every target generates) against Octave: a step's
    inputs are (x(t), state), its outputs (y(t), fed-back a(t)); the new state's rows are copies."""
    case, _, numeric = dynamic_runs[(kind, 1, "cell")]
    net, mapping = case.net, state_map(case.net)
    points = step_inputs(mapping, case.X[:, 0], case.state)
    jacobian = symnet.derive(net, "jacobian")(points)
    columns = np.concatenate([mapping.input_columns, mapping.state_columns])
    exact_y = jacobian[:, mapping.output_rows][:, :, columns]
    n_y = len(mapping.output_rows)
    assert compare(exact_y, numeric[:, :n_y]).max_rel_error <= 1e-6
    if net.delays.layers:       # a(t) enters the state at delay 1: those rows of Octave's Af
        exact_a = jacobian[:, mapping.fed_back_rows][:, :, columns]
        numeric_a = np.einsum("si,nsc->nic", mapping.advance_fed_back, numeric[:, n_y:])
        assert compare(exact_a, numeric_a).max_rel_error <= 1e-6


# --- bad dynamic files: one line naming the file, the line and the problem ------------------------

#: name: (text replaced, replacement with the offending line marked '% <-', a phrase of the message)
BAD_DYNAMIC = {
    "tap delay past the buffer": ("tapdelay1 = cat(1,Xd1{mod(xdts-[1 2]-1,3)+1});",
                                  "tapdelay1 = cat(1,Xd1{mod(xdts-[1 3]-1,3)+1});  % <-",
                                  "tap delays [1, 3] do not fit the delay buffer Xd1 of 3 values"),
    "buffer read at another position": ("tapdelay1 = cat(1,Xd1{mod(xdts-[1 2]-1,3)+1});",
                                        "tapdelay1 = cat(1,Xd1{mod(xdts-[1 2]-2,3)+1});  % <-",
                                        "Xd1 must be read at mod(slot-[delays]-1,3)+1"),
    "rotating position of another buffer": ("    adts = mod(ts+1,3)+1;", "    adts = mod(ts+2,4)+1;\n"
                                            "    Xd1{adts} = X{1,ts};  % <-",
                                            "Xd1 is written at a position other than its rotating slot"),
    "rotating position with another offset": ("    xdts = mod(ts+1,3)+1;", "    xdts = mod(ts+0,3)+1;  % <-",
                                              "mod is read only in a rotating delay position"),
    "no initial states": ("for ts=1:2\n    Xd1{ts} = mapminmax_apply(removeconstantrows_apply(Xi{1,ts},x1_step1),"
                          "x1_step2);\nend", "", "the delay buffer Xd1 is never given initial states"),
    "initial states processed otherwise": ("    Xd1{ts} = mapminmax_apply(removeconstantrows_apply(Xi{1,ts},x1_step1),"
                                           "x1_step2);", "    Xd1{ts} = removeconstantrows_apply(Xi{1,ts},x1_step1);",
                                           "the initial states in Xd1 are processed differently"),
    "tapped weights of the wrong width": ("tapdelay2 = cat(1,Ad2{mod(adts-[1 2]-1,3)+1});",
                                          "tapdelay2 = cat(1,Ad2{mod(adts-[1]-1,3)+1});",
                                          "LW1_2 is 3x2, but it takes layer 2 (1 values) at 1 delays"),
    "initial states read in the time loop": ("IW1_1*tapdelay1 + LW1_2*tapdelay2);",
                                             "IW1_1*tapdelay1 + LW1_2*Xi{1,ts});  % <-",
                                             "cell indices must be {i} or {i,ts}"),
    "matrix form: taps reshaped to another size": (
        "tapdelay1 = reshape(xd1(:,mod(xdts-[1 2]-1,3)+1),4,1);",
        "tapdelay1 = reshape(xd1(:,mod(xdts-[1 2]-1,3)+1),3,1);  % <-", "reshaped to another size than 4x1"),
    "matrix form: a buffer read at another column": (
        "    y1(:,ts) = mapminmax_reverse(ad2(:,adts),y1_step1);",
        "    y1(:,ts) = mapminmax_reverse(ad2(:,ts),y1_step1);  % <-",
        "ad2 is read at a position other than its rotating slot"),
    "matrix form: states not named xi1/ai2": ("function [y1,xf1,af2] = {name}(x1,xi1,ai2)",
                                              "function [y1,xf1,af2] = {name}(x1,Xi,ai2)  % <-",
                                              "time-series networks are read"),
}


@pytest.mark.parametrize("case", list(BAD_DYNAMIC))
def test_bad_dynamic_files_are_refused_with_file_and_line(case, tmp_path):
    old, new, phrase = BAD_DYNAMIC[case]
    path = tmp_path / "narx.m"
    write = WRITER.dynamic_matrix_text if case.startswith("matrix") else WRITER.dynamic_genfunction_text
    text = write(NETWORKS["narxnet_closed"](), "{name}")
    assert old in text
    text = text.replace(old, new).replace("{name}", path.stem)
    path.write_text(text)
    with pytest.raises(symnet.SymnetError) as caught:
        symnet.load(path)
    message = str(caught.value)
    assert "\n" not in message and phrase in message, message
    marked = [n for n, line in enumerate(text.splitlines(), start=1) if "% <-" in line]
    assert message.startswith(f"{path}:{marked[0] if marked else ''}"), message


# --- the generated step functions, run over a sequence in their own languages ----------------------

STEP_DRIVER = r"""#include <stdio.h>
#include <stdlib.h>
#include "{name}_step.h"

/* driver SERIES STEPS in.bin out.bin: per series [x(1) .. x(T) state] -> [y(1) .. y(T) state] */
int main(int argc, char **argv)
{{
    size_t q, t, series, steps, n_in, n_out;
    double *in, *out;
    FILE *file;
    if (argc != 5) return 2;
    series = (size_t)strtoul(argv[1], NULL, 10);
    steps = (size_t)strtoul(argv[2], NULL, 10);
    n_in = steps * {macro}_N_X + {macro}_N_STATE;
    n_out = steps * {macro}_N_Y + {macro}_N_STATE;
    in = malloc(series * n_in * sizeof *in);
    out = malloc(series * n_out * sizeof *out);
    if (in == NULL || out == NULL) return 3;
    file = fopen(argv[3], "rb");
    if (file == NULL || fread(in, sizeof *in, series * n_in, file) != series * n_in) return 4;
    fclose(file);
    for (q = 0; q < series; ++q) {{
        double *state = out + q * n_out + steps * {macro}_N_Y;
        size_t k;
        for (k = 0; k < {macro}_N_STATE; ++k) state[k] = in[q * n_in + steps * {macro}_N_X + k];
        for (t = 0; t < steps; ++t) {{
            {name}_step(in + q * n_in + t * {macro}_N_X, state, out + q * n_out + t * {macro}_N_Y, state);
        }}
    }}
    file = fopen(argv[4], "wb");
    if (file == NULL || fwrite(out, sizeof *out, series * n_out, file) != series * n_out) return 5;
    fclose(file);
    free(in);
    free(out);
    return 0;
}}
"""


def run_numpy_step(folder, name, case):
    sys.path.insert(0, str(folder))     # as a user puts the generated files on the import path
    try:
        module = import_file(folder / f"{name}_numpy_step.py", f"{name}_numpy_step")
    finally:
        sys.path.remove(str(folder))
    state, outputs = case.state, []
    for t in range(case.steps):
        y, state = module.step(case.X[:, t], state)
        outputs.append(y)
    return np.concatenate(outputs + [state], axis=1)


def run_c_step(folder, name, case):
    gcc = require_tool("gcc")
    (folder / "driver.c").write_text(STEP_DRIVER.format(name=name, macro=name.upper()))
    build = subprocess.run([gcc, *STRICT_C, "driver.c", f"{name}_step.c", f"{name}.c", "-lm", "-o", "driver"],
                           cwd=folder, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    packed = np.concatenate([case.X.reshape(SERIES, -1), case.state], axis=1)
    np.ascontiguousarray(packed, dtype="<f8").tofile(folder / "in.bin")
    run = subprocess.run([folder / "driver", str(SERIES), str(case.steps), "in.bin", "out.bin"], cwd=folder,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return np.fromfile(folder / "out.bin", dtype="<f8").reshape(SERIES, -1)


def run_matlab_step(folder, name, case):
    octave = require_tool("octave-cli")
    n_x = case.n_x
    lines = [f"S = x1({case.steps * n_x + 1}:end,:);", "y1 = [];"]
    for t in range(case.steps):
        lines += [f"[Y, S] = {name}_step(x1({t * n_x + 1}:{(t + 1) * n_x},:), S);", "y1 = [y1; Y];"]
    lines.append("y1 = [y1; S];")
    packed = np.concatenate([case.X.reshape(SERIES, -1), case.state], axis=1)
    result = run_octave(octave, [OctaveJob(folder, [packed], "\n".join(lines), 1)], folder)[0]
    assert not isinstance(result, str), result
    return result[0]


STEP_RUNNERS = {"numpy": run_numpy_step, "c": run_c_step, "matlab": run_matlab_step}


@pytest.mark.parametrize("strategy", ["unrolled", "layered"])
@pytest.mark.parametrize("target", list(STEP_RUNNERS))
@pytest.mark.parametrize("kind", list(NETWORKS))
def test_generated_step_function_runs_a_sequence_as_octave_does(kind, target, strategy, dynamic_runs, tmp_path):
    case, values, _ = dynamic_runs[(kind, STEPS, "cell")]
    name = f"{kind}_model"
    paths = symnet.generate(case.net, [target], tmp_path, derivatives=("value",), name=name, strategy=strategy)
    assert any("_step." in path.name for path in paths)
    ours = STEP_RUNNERS[target](tmp_path, name, case)
    scale = np.maximum(np.abs(values), 1.0)
    assert ours.shape == values.shape
    assert np.max(np.abs(ours - values) / scale) <= 1e-12


def test_a_static_network_gets_no_step_function(tmp_path):
    net = symnet.load(REPO / "examples" / "pxyz.json")
    paths = symnet.generate(net, ["numpy", "c", "matlab"], tmp_path, derivatives=("value",))
    assert not any("_step" in path.name for path in paths)


# --- matlab/symnet_export.m of a dynamic network ---------------------------------------------------

def dynamic_octave_struct(net, function_name):
    """An Octave function returning the dynamic network ``net`` as a struct shaped like a MATLAB
    network object: weights with their delays, as the toolbox holds them."""
    from test_matlab_mat import column, literal, port_lines
    layout = net.delays
    n_in, n_layers = len(layout.inputs), len(net.layers)
    connect = {"IW": np.zeros((n_layers, n_in)), "LW": np.zeros((n_layers, n_layers))}
    lines = [f"function net = {function_name}()", "net = struct();", f"net.name = '{net.name}';",
             f"net.numInputs = {n_in}; net.numLayers = {n_layers};",
             f"net.inputs = cell(1, {n_in}); net.layers = cell(1, {n_layers}); net.outputs = cell(1, {n_layers});",
             f"net.IW = cell({n_layers}, {n_in}); net.LW = cell({n_layers}, {n_layers}); net.b = cell({n_layers}, 1);",
             f"net.inputWeights = cell({n_layers}, {n_in}); net.layerWeights = cell({n_layers}, {n_layers});"]
    for k, taps in enumerate(layout.inputs, start=1):
        inp = net.inputs[taps.current]
        lines += port_lines(f"net.inputs{{{k}}}", inp.steps, "input") + [f"net.inputs{{{k}}}.size = {inp.size};"]
    for i, layer in enumerate(net.layers, start=1):
        lines += [f"net.layers{{{i}}} = struct('size', {layer.size}, 'transferFcn', '{layer.transfer}',"
                  " 'netInputFcn', 'netsum');", f"net.b{{{i}}} = {column(layer.bias)};"]
        for name, weights, source in WRITER._dynamic_connections(net, i - 1):
            kind, j = name[:2], int(name.split("_")[1])
            delays = source[2] if source[0] == "taps" else [0]
            connect[kind][i - 1, j - 1] = 1
            details = "inputWeights" if kind == "IW" else "layerWeights"
            lines += [f"net.{kind}{{{i},{j}}} = {literal(weights)};",
                      f"net.{details}{{{i},{j}}} = struct('delays', {literal([delays])}, 'weightFcn', 'dotprod');"]
    output_connect = np.zeros(n_layers)
    for o in layout.outputs:
        output = net.outputs[o]
        output_connect[output.layer] = 1
        lines += port_lines(f"net.outputs{{{output.layer + 1}}}", output.steps, "output")
    lines += [f"net.biasConnect = {column(np.ones(n_layers))};", f"net.inputConnect = {literal(connect['IW'])};",
              f"net.layerConnect = {literal(connect['LW'])};", f"net.outputConnect = {literal([output_connect])};"]
    return "\n".join(lines) + "\nend\n"


def test_symnet_export_of_dynamic_networks_reads_back_exactly(tmp_path):
    octave = require_tool("octave-cli")
    code = []
    for kind, make in NETWORKS.items():
        (tmp_path / f"make_{kind}.m").write_text(dynamic_octave_struct(make(), f"make_{kind}"))
        code.append(f"symnet_export(make_{kind}(), '{kind}.mat');")
    code.append("y1 = 1;")
    result = run_octave(octave, [OctaveJob(tmp_path, [np.zeros((1, 1))], "\n".join(code), 1, [REPO / "matlab"])],
                        tmp_path)[0]
    assert not isinstance(result, str), result
    for kind, make in NETWORKS.items():
        original, loaded = make(), symnet.load(tmp_path / f"{kind}.mat")
        assert loaded.delays == original.delays, kind
        assert [inp.name for inp in loaded.inputs] == [inp.name for inp in original.inputs]
        points = np.random.default_rng(1).uniform(-1, 1, size=(4, original.n_inputs))
        assert np.array_equal(loaded.evaluate(points), original.evaluate(points)), kind


def test_variants_of_the_bookkeeping_are_read(tmp_path):
    """A buffer the simulation never uses is no network state; one delay may rotate as mod(ts,2)+1."""
    closed = NETWORKS["narxnet_closed"]()
    text = WRITER.dynamic_genfunction_text(closed, "unused_buffer").replace(
        "% Layer Delay States\n", "% Layer Delay States\nAd1 = cell(1,3);\nfor ts=1:2\n    Ad1{ts} = Ai{1,ts};\nend\n")
    assert "Ad1{ts} = Ai{1,ts};" in text
    (tmp_path / "unused_buffer.m").write_text(text)
    loaded = symnet.load(tmp_path / "unused_buffer.m")
    assert loaded.delays == closed.delays
    one_delay = NETWORKS["timedelaynet"](delays=(1,))
    text = WRITER.dynamic_genfunction_text(one_delay, "one_delay")
    assert "xdts = mod(ts+0,2)+1;" in text
    (tmp_path / "one_delay.m").write_text(text.replace("xdts = mod(ts+0,2)+1;", "xdts = mod(ts,2)+1;"))
    loaded = symnet.load(tmp_path / "one_delay.m")
    points = np.random.default_rng(2).uniform(-1, 1, size=(3, one_delay.n_inputs))
    assert loaded.delays == one_delay.delays
    assert np.array_equal(loaded.evaluate(points), one_delay.evaluate(points))


def test_the_command_line_generates_the_step_function_and_describes_the_state(tmp_path):
    path = tmp_path / "narx.m"
    path.write_text(WRITER.dynamic_genfunction_text(NETWORKS["narxnet_closed"](), "narx"))
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "symnet", "generate", str(path), "--target", "numpy", "--out", str(out),
                          "--quiet"], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr
    step = (out / "narx_numpy_step.py").read_text()
    assert "# layer 2 output a2(t): delayed as a2_d1, a2_d2 (t-1 .. t-2)" in step
    assert "def step(X, S):" in step
    assert "x1(t): delayed as x1_d1, x1_d2 (t-1 .. t-2)" in (out / "narx_numpy.py").read_text()


def test_mutated_dynamic_files_are_refused_with_a_line_or_run_as_octave_runs_them(tmp_path):
    """Random small edits of dynamic files: symnet refuses them naming the line, or reads them
    as a network that runs over a sequence as Octave runs the edited file."""
    from test_matlab_mutations import mutate
    octave = require_tool("octave-cli")
    rng = random.Random(int(os.environ.get("SYMNET_MUTATION_SEED", "11")))
    texts = {(kind, form): write(NETWORKS[kind](), "{name}") for kind in NETWORKS
             for form, write in (("cell", WRITER.dynamic_genfunction_text), ("matrix", WRITER.dynamic_matrix_text))}
    cases, refused = [], 0
    for number in range(MUTANTS):
        kind, form = rng.choice(sorted(texts))
        path = tmp_path / f"mutant{number}_{kind}_{form}.m"
        text = texts[(kind, form)]
        end = text.index("% ===== MODULE FUNCTIONS")
        path.write_text((mutate(text[:end], rng) + text[end:]).replace("{name}", path.stem))
        try:
            case = DynamicCase.of_file(path, 3, form)
        except symnet.SymnetError as error:
            assert getattr(error, "line", None), f"no line for: {error}"
            refused += 1
            continue
        if case is None:
            refused += 1
        else:
            cases.append(case)
    assert refused > 100 and len(cases) > 20, (refused, len(cases))
    failures = []
    for case, result in zip(cases, run_octave(octave, [case.job for case in cases], tmp_path)):
        if isinstance(result, str):
            failures.append(f"{case.path.name}: read by symnet, refused by Octave: {result[:300]}")
            continue
        Y, final = symnet.simulate(case.net, case.X, case.state)
        ours = np.concatenate([Y.reshape(SERIES, -1), final], axis=1)
        if ours.shape != result[0].shape or np.max(np.abs(ours - result[0]) / np.maximum(np.abs(result[0]), 1)) > 1e-12:
            failures.append(f"{case.path.name}: symnet and Octave disagree")
    assert not failures, "\n".join(failures[:10])



@pytest.mark.parametrize("kind", ["timedelaynet", "narxnet_closed", "layrecnet"])
def test_a_dynamic_file_with_the_older_toolbox_header_is_read_alike(kind, tmp_path):
    """Older genFunction output: the "Neural Network Toolbox" header line and two-space
    indentation of the body."""
    network = NETWORKS[kind]()
    text = WRITER.dynamic_genfunction_text(network, "older")
    older = text.replace("% Written by symnet's examples/write_genfunction.py in the format of MATLAB's genFunction.",
                         "% Generated by Neural Network Toolbox function genFunction, 14-Mar-2014 09:12:44.")
    older = "\n".join(("  " + line) if line and not line.startswith(("function", "%")) else line
                      for line in older.split("\n"))
    assert older != text and "Neural Network Toolbox" in older
    (tmp_path / "older.m").write_text(older)
    loaded = symnet.load(tmp_path / "older.m")
    assert loaded.delays == network.delays
    points = np.random.default_rng(3).uniform(-1, 1, size=(3, network.n_inputs))
    assert np.array_equal(loaded.evaluate(points), network.evaluate(points))
