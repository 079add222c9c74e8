"""The forward Laplacian and named second partials with the first layer's constant tangents
folded (symnet.layered.directional, forward_laplacian): the sum Σ t_k·t_m of a layer whose
tangents are all constant is one constant vector Q (exact, rounded once), and where only an
identity layer that nothing reads takes that layer's Laplacian, Q is folded into its weights.

Checked on one-hidden-layer and deeper networks with input normalization of non-unit
gains, output normalization and several outputs, for every smooth transfer function:
against the 30-digit reference (relative 1e-12), central finite differences, torch.func,
and by running the generated C (strict flags, single point and batch), NumPy, Python and
MATLAB (Octave)."""

import platform
import subprocess

import numpy as np
import pytest

import symnet
from symnet.ir.derivative_spec import parse_derivative
from symnet.ir.network import Input, Layer, MapMinMax, Network, Output
from symnet.layered.directional import exact_column_scale, exact_pair_sum
from symnet.layered.network import layered_network
from symnet.layered.schedule import layered_program
from symnet.reference.directional import reference_values_with
from symnet.reference.finite_differences import compare, finite_difference_hessian, sample_points

from helpers import SMOOTH_TRANSFERS, import_file, require_module, require_tool
from runners import STRICT_C, _run, assert_passed, octave_self_check, python_self_check

CURVED = tuple(t for t in SMOOTH_TRANSFERS if t != "purelin")
#: the derivatives checked: the Laplacian, a mixed and a pure second partial
WHATS = ("laplacian", "d2y1/dx1dx3", "d2y2/dx2^2")


def _network(transfers, n_outputs=2, seed=0, width=10):
    """3 inputs (mapminmax with gains far from 1), hidden layers of ``transfers``, a purelin
    output layer of ``n_outputs`` units behind an output mapminmax."""
    rng = np.random.default_rng(seed)
    inputs = [Input("x", 3, (MapMinMax([-2.0, 0.5, 1.0], [0.7, 3.0, 0.25], [-1.0, -1.0, -1.0]),))]
    layers, previous = [], None
    for index, transfer in enumerate(tuple(transfers) + ("purelin",)):
        size = n_outputs if index == len(transfers) else width
        if previous is None:
            layers.append(Layer(size, transfer, rng.normal(scale=0.5, size=size), [(0, rng.normal(size=(size, 3)))]))
        else:
            layers.append(Layer(size, transfer, rng.normal(scale=0.5, size=size), [],
                                [(index - 1, rng.normal(scale=0.7, size=(size, previous)))]))
        previous = size
    steps = (MapMinMax(np.zeros(n_outputs), np.linspace(0.5, 4.0, n_outputs), -np.ones(n_outputs)),)
    name = "n_" + "_".join(transfers) + f"_{n_outputs}"
    return Network(inputs, layers, [Output("y", len(layers) - 1, steps)], name=name)


def _canonical(net, what):
    return parse_derivative(what, net).name


def _program(net, what):
    return layered_program(layered_network(net), _canonical(net, what))


def _arrays(program):
    return {operand.name for operand, _ in program.arrays}


def _constants(program):
    return dict(program.constants)


# --- the folded form -------------------------------------------------------------------------

def test_exact_sums_and_scales_round_once():
    big, small = 1.0 + 2.0 ** -30, 2.0 ** -30
    # (1 + 2^-30)^2 + (2^-30)^2 = 1 + 2^-29 + 2^-59: in doubles the 2^-59 (and a 2^-60) is lost
    assert exact_pair_sum([[big], [small]], [(0, 0), (1, 1)])[0] == 1.0 + 2.0 ** -29
    assert exact_pair_sum([[3.0], [0.1]], [(0, 1)])[0] == 3.0 * 0.1
    # 0.1 * 3 rounded once; the scale multiplies each column by its entry
    np.testing.assert_array_equal(exact_column_scale([[0.1, 2.0], [1.0, 0.5]], [3.0, -1.0]),
                                  [[0.1 * 3.0, -2.0], [3.0, -0.5]])


@pytest.mark.parametrize("scale", [1.0, 2.0 ** -460, 2.0 ** 460], ids=["moderate", "tiny", "huge"])
def test_exact_sums_agree_with_rational_arithmetic(scale):
    """Random tangents with mantissas that do not fit half a double (the products' low parts
    matter), also beyond the range of the split products (the rational path)."""
    from fractions import Fraction
    rng = np.random.default_rng(11)
    tangents = rng.standard_normal((5, 40)) * scale
    tangents[2, :3] = [0.0, 1e-300, -1e150]
    pairs = [(0, 0), (1, 1), (2, 2), (3, 4), (0, 3), (4, 4)]
    expected = [float(sum(Fraction(tangents[i, u]) * Fraction(tangents[j, u]) for i, j in pairs))
                for u in range(tangents.shape[1])]
    np.testing.assert_array_equal(exact_pair_sum(list(tangents), pairs), expected)
    moderate = np.clip(np.abs(tangents), 1e-100, 1e100) * np.sign(tangents)
    expected = [float(sum(Fraction(moderate[i, u]) * Fraction(moderate[j, u]) for i, j in pairs))
                for u in range(moderate.shape[1])]
    np.testing.assert_array_equal(exact_pair_sum(list(moderate), pairs), expected)


def test_one_hidden_layer_reads_the_curvature_through_folded_weights():
    net = _network(("tansig",))
    for what in WHATS:
        program = _program(net, what)
        tag = program.what.upper()
        assert f"W2_1_{tag}" in _constants(program), what
        assert "la1" not in _arrays(program), what   # no per-unit Laplacian of layer 1 stored
    program = _program(net, "laplacian")
    layered = layered_network(net)
    tangents = [layered.layers[0].input_weights[:, k] for k in range(3)]
    q = exact_pair_sum(tangents, [(0, 0), (1, 1), (2, 2)])
    np.testing.assert_array_equal(_constants(program)["W2_1_LAPLACIAN"],
                                  exact_column_scale(layered.layers[1].layer_weights[0][1], q))


def test_a_deeper_network_keeps_the_tangents_and_folds_the_first_layers_sum():
    net = _network(("tansig", "logsig"))
    program = _program(net, "laplacian")
    constants, arrays = _constants(program), _arrays(program)
    assert "Q1_LAPLACIAN" in constants and "la1" in arrays and "la2" in arrays
    assert not any(name.startswith("Q2") for name in constants)   # layer 2's tangents vary
    assert "W3_2_LAPLACIAN" not in constants   # layer 2's Laplacian has a net-input part


def test_an_output_layer_of_constant_tangents_stores_its_laplacian():
    """A tanh output layer reading the inputs: no weights to fold into, Q itself is read."""
    rng = np.random.default_rng(4)
    net = Network([Input("x", 3, (MapMinMax([-1.0, 0.0, 2.0], [5.0, 0.3, 1.7], [-1.0, -1.0, -1.0]),))],
                  [Layer(2, "tansig", rng.normal(size=2), [(0, rng.normal(size=(2, 3)))])], [Output("y", 0)],
                  name="single")
    program = _program(net, "laplacian")
    assert "Q1_LAPLACIAN" in _constants(program) and "la1" in _arrays(program)
    X = sample_points(net, 4, seed=3)
    reference = reference_values_with(net, ["laplacian"], X, {})["laplacian"]
    _assert_close(symnet.derive(net, "laplacian")(X), reference)


# --- numbers ---------------------------------------------------------------------------------

def _assert_close(got, reference, what=""):
    """Relative 1e-12 of the largest reference entry (entries near zero: absolute)."""
    scale = max(float(np.max(np.abs(reference))), 1e-300)
    assert got.shape == reference.shape, what
    assert np.max(np.abs(got - reference)) <= 1e-12 * scale, (what, np.max(np.abs(got - reference)) / scale)


def _references(net, X):
    names = [_canonical(net, what) for what in WHATS]
    return dict(zip(WHATS, (reference_values_with(net, names, X, {})[name] for name in names)))


NETWORKS = ([_network((t,), n_outputs=2, seed=i) for i, t in enumerate(CURVED)]
            + [_network((t, u), n_outputs=3, seed=10 + i) for i, (t, u) in
               enumerate(zip(CURVED, CURVED[1:] + CURVED[:1]))])


@pytest.mark.parametrize("net", NETWORKS, ids=lambda net: net.name)
def test_layered_numpy_matches_the_30_digit_reference_and_finite_differences(net):
    X = sample_points(net, 5, seed=1)
    references = _references(net, X)
    H = finite_difference_hessian(symnet.derive(net, "jacobian"), net, X)
    by_differences = {"laplacian": np.einsum("pikk->pi", H), "d2y1/dx1dx3": H[:, 0, 0, 2:3],
                      "d2y2/dx2^2": H[:, 1, 1, 1:2]}
    for what in WHATS:
        got = symnet.derive(net, what)(X)
        _assert_close(got, references[what], what)
        assert compare(got, by_differences[what]).max_rel_error <= 1e-5, what


def test_torch_func_agrees_on_one_and_two_hidden_layers():
    torch = require_module("torch")
    torch.manual_seed(5)
    for module in (torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)),
                   torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Softplus(), torch.nn.Linear(6, 5),
                                       torch.nn.Tanh(), torch.nn.Linear(5, 2))):
        module = module.double()
        net = symnet.load(module)
        X = np.random.default_rng(2).uniform(-1.5, 1.5, (4, 3))
        f = torch.func.jacfwd
        H = torch.stack([f(f(module))(torch.tensor(x)) for x in X]).detach().numpy()
        expected = {"laplacian": np.einsum("pikk->pi", H), "d2y1/dx1dx3": H[:, 0, 0, 2:3],
                    "d2y2/dx2^2": H[:, 1, 1, 1:2]}
        for what in WHATS:
            np.testing.assert_allclose(symnet.derive(net, what)(X), expected[what], rtol=1e-10,
                                       atol=1e-12 * np.max(np.abs(expected[what])), err_msg=what)


# --- generated code --------------------------------------------------------------------------

_C_MAIN = """#include <stdio.h>
#include "{name}.h"
static const double X[{count}][3] = {{{points}}};
int main(void)
{{
    double out[{size}], batch[{count} * {size}];
    int p, i;
{calls}
    return 0;
}}
"""


#: the C compiled as it is, for the machine (padded where it has AVX) and, on x86-64, for AVX
C_FLAGS = [(), ("-O3", "-march=native")] + ([("-O2", "-mavx")] if platform.machine() in ("x86_64", "AMD64") else [])


def _c_results(net, folder, name, X, flags=()):
    """{what: (single-point results, batch results)} of the generated C, compiled with STRICT_C
    and ``flags``."""
    functions = [(what, _canonical(net, what).replace("/", "_")) for what in WHATS]
    size = max(net.n_outputs, 1)
    calls = []
    for what, function in functions:
        width = net.n_outputs if what == "laplacian" else 1
        calls.append(f'    for (p = 0; p < {len(X)}; ++p) {{ {name}_{function}(X[p], out);'
                     f' for (i = 0; i < {width}; ++i) printf("{function} s %d %d %.17g\\n", p, i, out[i]); }}')
        calls.append(f'    {name}_{function}_batch({len(X)}, &X[0][0], batch);'
                     f' for (p = 0; p < {len(X)}; ++p) for (i = 0; i < {width}; ++i)'
                     f' printf("{function} b %d %d %.17g\\n", p, i, batch[p * {width} + i]);')
    points = ", ".join("{" + ", ".join(repr(float(v)) for v in x) + "}" for x in X)
    (folder / "main.c").write_text(_C_MAIN.format(name=name, count=len(X), points=points, size=size,
                                                  calls="\n".join(calls)))
    build = _run([require_tool("gcc"), *STRICT_C, *flags, "main.c", f"{name}.c", "-lm", "-o", "main"], folder)
    assert build.returncode == 0, build.stderr[-4000:]
    run = _run([folder / "main"], folder)
    assert run.returncode == 0, run.stderr
    values = {}
    for line in run.stdout.splitlines():
        function, form, p, i, value = line.split()
        values.setdefault((function, form), {})[int(p), int(i)] = float(value)
    results = {}
    for what, function in functions:
        width = net.n_outputs if what == "laplacian" else 1
        results[what] = tuple(np.array([[values[function, form][p, i] for i in range(width)] for p in range(len(X))])
                              for form in ("s", "b"))
    return results


@pytest.mark.parametrize("net", NETWORKS, ids=lambda net: net.name)
def test_generated_c_numpy_and_python_match_the_30_digit_reference(net, tmp_path):
    name = "fl"
    symnet.generate(net, ["c", "numpy", "python"], tmp_path, derivatives=list(WHATS), name=name, strategy="layered")
    X = sample_points(net, 4, seed=6)
    references = _references(net, X)
    numpy_module = import_file(tmp_path / f"{name}_numpy.py", f"fl_numpy_{net.name}")
    python_module = import_file(tmp_path / f"{name}.py", f"fl_python_{net.name}")
    results = [_c_results(net, tmp_path, name, X, flags) for flags in C_FLAGS]
    for what in WHATS:
        function = _canonical(net, what).replace("/", "_")
        _assert_close(getattr(numpy_module, function)(X), references[what], f"numpy {what}")
        python = np.array([getattr(python_module, function)(list(x)) for x in X])
        _assert_close(python.reshape(references[what].shape), references[what], f"python {what}")
        for flags, c in zip(C_FLAGS, results):
            single, batch = c[what]
            _assert_close(single, references[what], f"c {flags} {what}")
            np.testing.assert_array_equal(batch, single, err_msg=f"c {flags} batch {what}")
    for script in (f"{name}_numpy_check.py", f"{name}_check.py"):
        assert_passed(python_self_check(tmp_path, script))


@pytest.mark.parametrize("net", [NETWORKS[0], NETWORKS[-1]], ids=lambda net: net.name)
def test_generated_matlab_matches_the_30_digit_reference_in_octave(net, tmp_path):
    octave = require_tool("octave-cli")
    name = "fl"
    symnet.generate(net, ["matlab"], tmp_path, derivatives=list(WHATS), name=name, strategy="layered")
    X = sample_points(net, 4, seed=7)
    references = _references(net, X)
    rows = "; ".join(" ".join(repr(float(v)) for v in column) for column in X.T)
    lines = [f"X = [{rows}];"]
    for index, what in enumerate(WHATS):
        function = _canonical(net, what).replace("/", "_")
        lines.append(f"Y = {name}_{function}(X); printf('{index} %d %d %.17g\\n', "
                     f"[repmat(0:columns(Y)-1, rows(Y), 1)(:)'; repmat((0:rows(Y)-1)', 1, columns(Y))(:)'; Y(:)']);")
    (tmp_path / "run_fl.m").write_text("\n".join(lines) + "\n")
    run = subprocess.run([octave, "--no-gui", "--norc", "--quiet", "run_fl.m"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    got = {what: np.zeros_like(references[what]) for what in WHATS}
    for line in run.stdout.split("\n"):
        if line.strip():
            index, p, i, value = line.split()
            got[WHATS[int(index)]][int(p), int(i)] = float(value)
    for what in WHATS:
        _assert_close(got[what], references[what], f"matlab {what}")
    assert_passed(octave_self_check(tmp_path, name))


def test_single_point_c_pads_the_element_wise_loops_of_ten_units_and_agrees_padded_or_not(tmp_path):
    """The value, Hessian and Laplacian of a 3-10-2 network: the tanh loop and the product
    it reads run over SYMNET_PADDED(10) units, the weights and bias declared that long; the
    results with and without padding (SSE2 / AVX) equal the unpadded batch kernel's."""
    net = _network(("tansig",))
    name = "pd"
    symnet.generate(net, ["c"], tmp_path, derivatives=["value", "hessian", "laplacian"], name=name,
                    strategy="layered")
    source = (tmp_path / f"{name}.c").read_text()
    for function in ("evaluate", "hessian", "laplacian"):
        body = source[source.index(f"void {name}_{function}(const"):source.index(f"void {name}_{function}_batch(")]
        assert "double n1[SYMNET_PADDED(10)];" in body and "j < SYMNET_PADDED(10); ++j) {" in body, function
    assert "static const double B1[SYMNET_PADDED(10)]" in source
    # float: the C library's tanhf, not vectorized: nothing padded
    symnet.generate(net, ["c"], tmp_path / "float", derivatives=["laplacian"], name=name, strategy="layered",
                    precision="float")
    assert "SYMNET_PADDED" not in (tmp_path / "float" / f"{name}.c").read_text()
    X = sample_points(net, 5, seed=8)
    driver = """#include <stdio.h>
#include "pd.h"
static const double X[5][3] = {%s};
int main(void)
{
    double out[18], batch[5 * 18];
    int p, i;
    for (p = 0; p < 5; ++p) { pd_evaluate(X[p], out); for (i = 0; i < 2; ++i) printf("%%.17g\\n", out[i]); }
    for (p = 0; p < 5; ++p) { pd_hessian(X[p], out); for (i = 0; i < 18; ++i) printf("%%.17g\\n", out[i]); }
    for (p = 0; p < 5; ++p) { pd_laplacian(X[p], out); for (i = 0; i < 2; ++i) printf("%%.17g\\n", out[i]); }
    pd_evaluate_batch(5, &X[0][0], batch); for (i = 0; i < 10; ++i) printf("%%.17g\\n", batch[i]);
    pd_hessian_batch(5, &X[0][0], batch); for (i = 0; i < 90; ++i) printf("%%.17g\\n", batch[i]);
    pd_laplacian_batch(5, &X[0][0], batch); for (i = 0; i < 10; ++i) printf("%%.17g\\n", batch[i]);
    return 0;
}
""" % ", ".join("{" + ", ".join(repr(float(v)) for v in x) + "}" for x in X)
    (tmp_path / "main.c").write_text(driver)
    outputs = []
    for flags in C_FLAGS:
        build = _run([require_tool("gcc"), *STRICT_C, *flags, "main.c", f"{name}.c", "-lm", "-o", "main"], tmp_path)
        assert build.returncode == 0, build.stderr[-4000:]
        run = _run([tmp_path / "main"], tmp_path)
        assert run.returncode == 0, run.stderr
        values = np.array([float(v) for v in run.stdout.split()])
        assert values.size == 2 * (10 + 90 + 10)
        single, batch = values[:110], values[110:]
        np.testing.assert_array_equal(single, batch, err_msg=str(flags))
        outputs.append(single)
    references = reference_values_with(net, ["value", "hessian", "laplacian"], X, {})
    expected = np.concatenate([references[w].reshape(-1) for w in ("value", "hessian", "laplacian")])
    for flags, single in zip(C_FLAGS, outputs):
        for part, (start, stop) in {"value": (0, 10), "hessian": (10, 100), "laplacian": (100, 110)}.items():
            _assert_close(single[start:stop], expected[start:stop], f"{flags} {part}")
