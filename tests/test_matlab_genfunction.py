"""MATLAB genFunction files: symnet's reading against GNU Octave running the same file.

Each fixture in tests/fixtures/matlab/ is one variant of the format (naming
style, calling form, sample layout, processing, architecture). For each,
symnet's evaluation must equal Octave's to 1e-12, and symnet's exact Jacobian
must equal central differences of Octave's outputs. Two wide networks
(hundreds of inputs, hundreds of outputs) are written by
examples/write_genfunction.py and checked the same way.
"""

from pathlib import Path

import numpy as np
import pytest

import symnet
from symnet import Input, Layer, MapMinMax, Network, Output, RemoveConstantRows
from symnet.reference.finite_differences import compare, sample_points

from conftest import REPO
from helpers import import_file, require_tool
from octave_runner import FiniteDifferencePlan, OctaveJob, run_octave

FIXTURES = Path(__file__).parent / "fixtures" / "matlab"

#: what each file is, read off the file by hand: (cell form, samples as rows, load options)
CASES = {
    "fit_struct_matrix": (False, False, {}),
    "fit_flat_cell": (True, False, {}),
    "rows_matrix_logsig": (False, True, {}),
    "rows_cell_poslin": (True, True, {}),
    "removeconstantrows_struct": (False, False, {}),
    "removeconstantrows_flat": (True, False, {}),
    "removeconstantrows_keep_only": (False, False, {}),
    "removeconstantrows_keep_only+override": (False, False, {"input_sizes": {"x1": 4}}),
    "mapstd_both": (False, False, {}),
    "deep_mixed": (True, False, {}),
    "cascade": (False, False, {}),
    "multi_io_matrix": (False, False, {}),
    "multi_io_cell": (True, False, {}),
    "pattern_softmax_old": (True, False, {}),
    "pattern_softmax_new": (False, False, {}),
    "hand_edited": (False, False, {}),
    "wide_inputs": (False, False, {}),
    "wide_outputs": (False, False, {}),
    "pxyz_example": (False, False, {}),
}


def wide_network(n_inputs, n_outputs, seed):
    """A 1-hidden-layer fitnet with many inputs or outputs; the last input row and
    output rows 2 and n+2 are constant (removeconstantrows on both sides)."""
    rng = np.random.default_rng(seed)
    hidden = 3
    low = rng.uniform(-100, 100, n_inputs)
    inputs = [Input("x1", n_inputs + 1, [RemoveConstantRows(n_inputs + 1, tuple(range(n_inputs))),
                                         MapMinMax(low, 2 / rng.uniform(0.5, 50, n_inputs), -1.0)])]
    layers = [Layer(hidden, "tansig", rng.normal(size=hidden),
                    [(0, rng.normal(scale=1 / np.sqrt(n_inputs), size=(hidden, n_inputs)))]),
              Layer(n_outputs, "purelin", rng.normal(size=n_outputs),
                    layer_weights=[(0, rng.normal(size=(n_outputs, hidden)))])]
    removed = (1, n_outputs + 1)
    keep = tuple(k for k in range(n_outputs + 2) if k not in removed)
    outputs = [Output("y1", 1, [RemoveConstantRows(n_outputs + 2, keep, (3.5, -1.25)),
                                MapMinMax(rng.uniform(-5, 5, n_outputs), rng.uniform(0.1, 2, n_outputs), -1.0)])]
    return Network(inputs, layers, outputs, name="wide")


def fixture_path(stem, directory):
    if stem == "pxyz_example":
        return REPO / "examples" / "pxyz_genfunction.m"
    if stem.startswith("wide_"):
        writer = import_file(REPO / "examples" / "write_genfunction.py", "write_genfunction")
        net = wide_network(150, 2, 1) if stem == "wide_inputs" else wide_network(3, 200, 2)
        return writer.write_genfunction(net, directory / f"{stem}.m")
    return FIXTURES / f"{stem.split('+')[0]}.m"


def octave_code(path, n_inputs, n_outputs, cell_form, rows):
    name = path.stem
    args = [f"x{k}'" if rows else f"x{k}" for k in range(1, n_inputs + 1)]
    outs = [f"y{k}" for k in range(1, n_outputs + 1)]
    if cell_form:
        lines = [f"Y = {name}({{{';'.join(args)}}});"]
        lines += [f"y{k} = Y{{{k}}}" + ("';" if rows else ";") for k in range(1, n_outputs + 1)]
    else:
        lines = [f"[{','.join(outs)}] = {name}({','.join(args)});"]
        lines += [f"y{k} = y{k}';" for k in range(1, n_outputs + 1) if rows]
    return "\n".join(lines)


def finite_difference_steps(net):
    width = np.ptp(net.input_range(), axis=1)
    return 1e-4 * np.where(width > 0, width, 1.0)


class Case:
    def __init__(self, stem, directory):
        cell_form, rows, options = CASES[stem]
        self.path = fixture_path(stem, directory)
        self.net = symnet.load(self.path, **options)
        self.X = sample_points(self.net, 3, seed=11)
        self.plan = FiniteDifferencePlan(self.X, finite_difference_steps(self.net))
        starts = np.cumsum([0] + [inp.size for inp in self.net.inputs])
        inputs = [self.plan.points[:, a:b] for a, b in zip(starts[:-1], starts[1:])]
        n_outputs = len(self.net.outputs)
        self.job = OctaveJob(self.path.parent, inputs, octave_code(
            self.path, len(inputs), n_outputs, cell_form, rows), n_outputs)

    def octave(self, result):
        """Octave's outputs at X and the finite-difference Jacobian of Octave's outputs."""
        if isinstance(result, str):
            pytest.fail(f"Octave failed on {self.path.name}: {result}")
        return self.plan.split(np.concatenate(result, axis=1))


@pytest.fixture(scope="module")
def octave_runs(tmp_path_factory):
    octave = require_tool("octave-cli")
    directory = tmp_path_factory.mktemp("genfunction")
    cases = {stem: Case(stem, directory) for stem in CASES}
    results = run_octave(octave, [case.job for case in cases.values()], directory)
    return {stem: (case, case.octave(result)) for (stem, case), result in zip(cases.items(), results)}


@pytest.mark.parametrize("stem", list(CASES))
def test_evaluation_equals_octave(stem, octave_runs):
    case, (values, _) = octave_runs[stem]
    ours = case.net.evaluate(case.X)
    scale = np.maximum(np.max(np.abs(values), axis=0), np.finfo(float).tiny)
    assert ours.shape == values.shape
    assert np.max(np.abs(ours - values) / scale) <= 1e-12


@pytest.mark.parametrize("stem", list(CASES))
def test_jacobian_equals_finite_differences_of_octave(stem, octave_runs):
    case, (_, numeric) = octave_runs[stem]
    exact = symnet.derive(case.net, "jacobian")(case.X)
    result = compare(exact, numeric)
    assert result.max_rel_error <= 1e-6, result


#: removed rows, 0-based: {stem: (removed input columns, removed output rows)}
REMOVED = {
    "removeconstantrows_struct": ([2, 4], [1]),
    "removeconstantrows_flat": ([1, 4], [1, 3]),
    "removeconstantrows_keep_only": ([0], []),
    "removeconstantrows_keep_only+override": ([0, 3], []),
    "pattern_softmax_new": ([], [2]),
}


@pytest.mark.parametrize("stem", list(REMOVED))
def test_removed_rows_have_exactly_zero_derivatives(stem, tmp_path):
    cell_form, rows, options = CASES[stem]
    net = symnet.load(fixture_path(stem, tmp_path), **options)
    columns, output_rows = REMOVED[stem]
    jacobian = symnet.derive(net, "jacobian")(sample_points(net, 4, seed=3))
    kept_columns = [k for k in range(net.n_inputs) if k not in columns]
    assert np.all(jacobian[:, :, columns] == 0.0)
    assert np.all(jacobian[:, output_rows, :] == 0.0)
    assert np.all(np.any(jacobian[:, :, kept_columns] != 0.0, axis=1))


def test_the_reader_sees_the_structure_written_in_the_files():
    def load(stem, **options):
        return symnet.load(FIXTURES / f"{stem}.m", **options)
    deep = load("deep_mixed")
    assert [layer.transfer for layer in deep.layers] == ["satlin", "satlins", "radbas", "elliotsig", "purelin"]
    cascade = load("cascade")
    assert [[s for s, _ in layer.input_weights] for layer in cascade.layers] == [[0], [0], [0]]
    assert [[s for s, _ in layer.layer_weights] for layer in cascade.layers] == [[], [0], [0, 1]]
    multi = load("multi_io_matrix")
    assert [(inp.name, inp.size) for inp in multi.inputs] == [("x1", 2), ("x2", 3)]
    assert [(out.name, out.layer, multi.output_size(out)) for out in multi.outputs] == [("y1", 1, 2), ("y2", 2, 3)]
    struct = load("removeconstantrows_struct")      # keep only: the raw count 5 comes from the help text
    assert struct.inputs[0].steps[0].n_rows == 5 and struct.inputs[0].steps[0].keep == (0, 1, 3)
    assert [s.kind for s in struct.outputs[0].steps] == ["removeconstantrows", "mapminmax"]
    assert struct.outputs[0].steps[0].constants == (0.75,)
    flat = load("removeconstantrows_flat")          # remove listed as [4 2] with values [-2.5;7.125]
    assert flat.outputs[0].steps[0].constants == (7.125, -2.5)
    assert load("removeconstantrows_keep_only").n_inputs == 3
    assert load("removeconstantrows_keep_only", input_sizes=[6]).n_inputs == 6
    assert load("mapstd_both").inputs[0].steps[0].kind == "mapstd"


def test_input_size_override_must_fit_the_file():
    path = FIXTURES / "removeconstantrows_keep_only.m"
    with pytest.raises(symnet.SymnetError, match="keeps row 3"):
        symnet.load(path, input_sizes={"x1": 2})
    with pytest.raises(symnet.SymnetError, match="not an input"):
        symnet.load(path, input_sizes={"x7": 5})
    with pytest.raises(symnet.SymnetError, match="says 3"):
        symnet.load(FIXTURES / "fit_struct_matrix.m", input_sizes=[4])


def test_numbers_are_read_exactly():
    net = symnet.load(FIXTURES / "fit_struct_matrix.m")
    text = (FIXTURES / "fit_struct_matrix.m").read_text()
    first_bias = text.split("b1 = [")[1].split(";")[0]
    assert net.layers[0].bias[0] == float(first_bias) and len(first_bias.replace("-", "").replace(".", "")) >= 18


def test_samples_as_rows_with_a_plain_purelin_output(tmp_path):
    """y1 = a2' where a2 is a weighted sum: the transpose makes a2 the (purelin) output layer."""
    (tmp_path / "rows.m").write_text(
        "function [y1] = rows(x1)\nb1 = [0.5;-0.25];\nIW1_1 = [1 2;3 -4];\nb2 = 0.125;\nLW2_1 = [2 -1];\n"
        "Q = size(x1,1);\nx1 = x1';\na1 = tansig_apply(repmat(b1,1,Q) + IW1_1*x1);\n"
        "a2 = repmat(b2,1,Q) + LW2_1*a1;\ny1 = a2';\nend\n"
        "function a = tansig_apply(n,~)\na = 2 ./ (1 + exp(-2*n)) - 1;\nend\n")
    net = symnet.load(tmp_path / "rows.m")
    X = np.array([[0.1, 0.2], [-0.3, 0.7]])
    expected = 0.125 + np.tanh(X @ np.array([[1, 2], [3, -4]]).T + [0.5, -0.25]) @ np.array([2, -1])
    assert np.allclose(net.evaluate(X)[:, 0], expected, rtol=1e-15, atol=0)
    assert [layer.transfer for layer in net.layers] == ["tansig", "purelin"]
