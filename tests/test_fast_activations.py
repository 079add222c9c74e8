"""The opt-in fast activations (activations="fast", c target, layered form): the
approximate tanh and logistic against the C library's long double functions over a
dense grid (extremes, subnormals, +-inf, NaN), in double and float, with and without
the fused multiply-add; their slopes 1 - a² and a(1 - a); the Jacobian and Hessian of
whole networks against the 30-digit reference within the stated bounds; the
refusals; and the exact mode unchanged."""

import subprocess

import numpy as np
import pytest

import symnet
from symnet.errors import UnsupportedError
from symnet.ir.network import Input, Layer, MapMinMax, Network, Output
from symnet.reference.high_precision import reference_values_of

from helpers import points_for, require_tool
from test_layered import mlp
from test_layered_c import DRIVER, WHAT

STRICT = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
FLAGS = {"fused": ("-O3", "-march=native"), "plain": ("-O2", "-mno-fma")}
#: Per precision: numpy type, the spacing of numbers in [1, 2) (ulp of 1), and the stated bounds:
#: function (ulp where |value| >= 1e-3, ulps of 1 absolute below) and slope (ulps of 1, absolute).
FORMATS = {"double": (np.float64, 2.0 ** -52), "float": (np.float32, 2.0 ** -23)}
FUNCTION_ULPS, SMALL_VALUE_ULPS_OF_ONE, SLOPE_ULPS_OF_ONE, CURVATURE_ULPS_OF_ONE = 4, 2, 4, 8

FUNCTIONS_DRIVER = """#include <stdio.h>
#include <stdlib.h>
#include "model.c"
/* fast N: N numbers from args.bin; writes tanh of each, then the logistic, to values.bin */
int main(int argc, char **argv)
{
    size_t n = (size_t)strtoul(argv[1], NULL, 10), i;
    REAL *x = malloc(n * sizeof *x), *y = malloc(2 * n * sizeof *y);
    FILE *file = fopen("args.bin", "rb");
    if (argc != 2 || fread(x, sizeof *x, n, file) != n) return 2;
    fclose(file);
    for (i = 0; i < n; ++i) {
        y[i] = symnet_fast_tanh(x[i]);
        y[n + i] = symnet_fast_logistic(x[i]);
    }
    file = fopen("values.bin", "wb");
    fwrite(y, sizeof *y, 2 * n, file);
    fclose(file);
    free(x);
    free(y);
    return 0;
}
"""


def tanh_logistic_net(sizes=(3, 7, 6, 2), seed=0):
    """A tanh layer, a logistic layer and a linear output layer, mapminmax on both sides."""
    rng = np.random.default_rng(seed)
    n_in, first, second, n_out = sizes
    layers = [Layer(first, "tansig", rng.normal(size=first), [(0, rng.normal(size=(first, n_in)))]),
              Layer(second, "logsig", rng.normal(size=second), layer_weights=[(0, rng.normal(size=(second, first)))]),
              Layer(n_out, "purelin", rng.normal(size=n_out), layer_weights=[(1, rng.normal(size=(n_out, second)))])]
    return Network([Input("x", n_in, [MapMinMax(rng.uniform(-1, 1, n_in), np.full(n_in, 1.0), -1.0)])], layers,
                   [Output("y", 2, [MapMinMax(rng.uniform(-3, 3, n_out), rng.uniform(0.1, 3, n_out), -1.0)])],
                   name="tanh_logistic")


def grid(dtype):
    """Arguments: a dense uniform grid over the range where the functions vary, numbers
    spread evenly over every binade (every 2^k-th bit pattern, subnormals included, both
    signs), and the special values."""
    if dtype == np.float64:
        dense = np.linspace(-50.0, 50.0, 2_000_001)
        bits = np.arange(0, 0x7FF0000000000000, 0x7FF0000000000000 // 400_000, dtype=np.uint64)
    else:
        dense = np.linspace(-25.0, 25.0, 1_000_001)
        bits = np.arange(0, 0x7F800000, 1 << 10, dtype=np.uint32)
    spread = bits.view(dtype)
    special = np.array([0.0, np.inf, np.nan, np.finfo(dtype).tiny, np.finfo(dtype).max,
                        np.finfo(dtype).smallest_subnormal, 1e-3, 0.5, 1.0, 19.0, 20.0, 40.0, 745.0])
    positive = np.concatenate([dense[dense > 0], spread, special.astype(dtype)]).astype(dtype)
    return np.concatenate([positive, -positive, dense[dense <= 0].astype(dtype)])


def references(x):
    """(tanh, logistic) in long double (the C library's tanhl and expl)."""
    wide = x.astype(np.longdouble)
    with np.errstate(over="ignore"):
        return np.tanh(wide), 1 / (1 + np.exp(-wide))


def function_errors(values, reference, unit):
    """(worst error in ulp of the exact value where |value| >= 1e-3, worst absolute error
    in ulps of 1 elsewhere); ``unit`` is the format's ulp of 1."""
    finite = np.isfinite(reference)
    values, reference = values[finite].astype(np.longdouble), reference[finite]
    large = np.abs(reference) >= 1e-3
    _, exponent = np.frexp(reference[large])
    spacing = np.ldexp(np.longdouble(unit), exponent - 1)    # the ulp of numbers in [2^(e-1), 2^e)
    return (float(np.max(np.abs(values[large] - reference[large]) / spacing)),
            float(np.max(np.abs(values[~large] - reference[~large])) / unit))


def run_functions(folder, precision, flags, x):
    gcc = require_tool("gcc")
    symnet.generate(tanh_logistic_net(), ["c"], folder, derivatives=["jacobian"], name="model",
                    activations="fast", precision=precision)
    (folder / "driver.c").write_text(FUNCTIONS_DRIVER)
    done = subprocess.run([gcc, *STRICT, *flags, f"-DREAL={precision}", "driver.c", "-lm", "-o", "fast"],
                          cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    x.tofile(folder / "args.bin")
    subprocess.run(["./fast", str(x.size)], cwd=folder, check=True, timeout=120)
    return np.fromfile(folder / "values.bin", dtype=x.dtype).reshape(2, -1)


@pytest.mark.parametrize("flags", FLAGS, ids=list(FLAGS))
@pytest.mark.parametrize("precision", FORMATS)
def test_fast_tanh_and_logistic_are_within_the_stated_bounds(precision, flags, tmp_path):
    dtype, unit = FORMATS[precision]
    x = grid(dtype)
    values = run_functions(tmp_path, precision, FLAGS[flags], x)
    for computed, reference in zip(values, references(x)):
        relative, absolute = function_errors(computed, reference, unit)
        assert relative <= FUNCTION_ULPS and absolute <= SMALL_VALUE_ULPS_OF_ONE, (relative, absolute)
    tanh, logistic = values
    nan = np.isnan(x)
    assert np.isnan(tanh[nan]).all() and np.isnan(logistic[nan]).all()
    assert (tanh[x == np.inf] == 1).all() and (tanh[x == -np.inf] == -1).all()
    assert (logistic[x == np.inf] == 1).all() and (logistic[x == -np.inf] <= SMALL_VALUE_ULPS_OF_ONE * unit).all()
    assert (np.signbit(tanh[x == 0]) == np.signbit(x[x == 0])).all()   # tanh(-0) = -0


@pytest.mark.parametrize("precision", FORMATS)
def test_slopes_from_the_approximate_values_are_within_the_stated_bound(precision, tmp_path):
    """tanh' = 1 - a², logistic' = a(1 - a) and the curvatures -2a·d, d(1 - 2a) computed in
    the format from the fast a (as the generated code writes them), against the exact ones
    in long double."""
    dtype, unit = FORMATS[precision]
    x = grid(dtype)
    x = x[np.isfinite(x)]
    tanh, logistic = run_functions(tmp_path, precision, FLAGS["plain"], x)
    exact_tanh, exact_logistic = references(x)
    slopes = (dtype(1) - tanh * tanh, logistic * (dtype(1) - logistic))
    exact = (1 - exact_tanh ** 2, exact_logistic * (1 - exact_logistic))
    for slope, reference in zip(slopes, exact):
        assert np.max(np.abs(slope.astype(np.longdouble) - reference)) <= SLOPE_ULPS_OF_ONE * unit
    curvatures = (dtype(-2) * tanh * slopes[0], slopes[1] * (dtype(1) - dtype(2) * logistic))
    exact = (-2 * exact_tanh * exact[0], exact[1] * (1 - 2 * exact_logistic))
    for curvature, reference in zip(curvatures, exact):
        assert np.max(np.abs(curvature.astype(np.longdouble) - reference)) <= CURVATURE_ULPS_OF_ONE * unit


#: The stated bound of the fast mode's derivatives on these networks: within this much of
#: the largest entry of the exact (30-digit) value, Jacobian and Hessian alike.
#: (Measured: 1.5e-15 in double, 8e-7 in float, where rounding the weights to float dominates.)
DERIVATIVE_BOUND = {"double": 1e-14, "float": 1e-5}


def run_network(net, folder, X, precision, flags):
    """(single-point, batch) results of the fast-mode c code per derivative."""
    gcc = require_tool("gcc")
    symnet.generate(net, ["c"], folder, derivatives=tuple(WHAT), name="model", activations="fast",
                    precision=precision)
    driver = DRIVER if precision == "double" else DRIVER.replace("double", "float")
    (folder / "driver.c").write_text(driver)
    for program, sources in (("driver", ["driver.c", "model.c"]), ("check", ["model_check.c", "model.c"])):
        done = subprocess.run([gcc, *STRICT, *flags, *sources, "-lm", "-o", program], cwd=folder,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
    checked = subprocess.run(["./check"], cwd=folder, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
    dtype = FORMATS[precision][0]
    np.ascontiguousarray(X, dtype=dtype).tofile(folder / "x.bin")
    subprocess.run(["./driver", str(len(X))], cwd=folder, check=True, timeout=120)
    shapes = {"value": (net.n_outputs,), "jacobian": (net.n_outputs, net.n_inputs),
              "hessian": (net.n_outputs, net.n_inputs, net.n_inputs)}
    return {what: np.fromfile(folder / f"out_{function}.bin", dtype=dtype).astype(float)
            .reshape((2, len(X)) + shapes[what]) for what, function in WHAT.items()}


@pytest.mark.parametrize("precision", FORMATS)
@pytest.mark.parametrize("net", [tanh_logistic_net(), tanh_logistic_net((5, 40, 36, 3), seed=1),
                                 mlp((2, 34, 33, 1))], ids=["tanh-logistic", "wide", "tanh-forward"])
def test_fast_derivatives_are_within_the_stated_bound_of_the_exact_ones(net, precision, tmp_path):
    """Value, Jacobian and Hessian, one point per call and in blocks, at points in the
    sampled range and far out (saturated units), against the 30-digit reference."""
    X = points_for(net, count=12)
    X = np.concatenate([X, 8 * X])
    if precision == "float":
        X = X.astype(np.float32).astype(float)
    results = run_network(net, tmp_path, X, precision, FLAGS["fused"])
    reference = reference_values_of(net, tuple(WHAT), X)
    for what, (single, batch) in results.items():
        scale = np.abs(reference[what]).max()
        bound = DERIVATIVE_BOUND[precision]
        assert np.max(np.abs(single - reference[what])) <= bound * scale, what
        assert np.max(np.abs(batch - reference[what])) <= bound * scale, what


# --- the option: where it is honoured, and its refusals -----------------------------------------

def test_fast_mode_is_stated_in_the_header_and_leaves_the_exact_mode_alone(tmp_path):
    net = tanh_logistic_net()
    symnet.generate(net, ["c"], tmp_path / "fast", derivatives=["jacobian"], name="model", activations="fast")
    header, source = ((tmp_path / "fast" / name).read_text() for name in ("model.h", "model.c"))
    assert "Activations: fast." in header and "symnet_fast_tanh(n1[j])" in source
    assert "symnet_fast_logistic(n2[j])" in source
    for folder, activations in (("default", None), ("exact", "exact")):
        options = {} if activations is None else {"activations": activations}
        symnet.generate(net, ["c"], tmp_path / folder, derivatives=["jacobian"], name="model",
                        strategy="layered", **options)
    for name in ("model.h", "model.c", "model_check.c"):
        exact = (tmp_path / "exact" / name).read_text()
        assert exact == (tmp_path / "default" / name).read_text()
        assert "symnet_fast" not in exact and "Activations: fast" not in exact


@pytest.mark.parametrize("options, message", [
    ({"targets": ["python"]}, "the python target has no 'fast' activations mode (targets that have it: c)"),
    ({"targets": ["c", "numpy"]}, "the numpy target has no 'fast' activations mode"),
    ({"strategy": "unrolled"}, "the 'fast' activations mode needs the layered strategy"),
    ({"activations": "quick"}, "unknown activations mode 'quick' (choose from exact, fast)"),
])
def test_fast_mode_refusals_name_the_problem(options, message, tmp_path):
    arguments = {"targets": ["c"], "activations": "fast", **options}
    with pytest.raises(UnsupportedError, match=message.replace("(", r"\(").replace(")", r"\)")):
        symnet.generate(tanh_logistic_net(), arguments.pop("targets"), tmp_path, **arguments)
    assert not any(tmp_path.iterdir())


def test_cli_activations_option(tmp_path):
    from test_cli_options import EXAMPLE, _error_line, run_cli
    code, out, err = run_cli("generate", EXAMPLE, "--target", "c", "--activations", "fast", "--out", tmp_path / "c")
    assert code == 0, out + err
    assert "Activations: fast." in (tmp_path / "c" / "pxyz.h").read_text()
    code, out, err = run_cli("generate", EXAMPLE, "--target", "python", "--activations", "fast",
                             "--out", tmp_path / "python")
    assert code != 0 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "has no 'fast' activations mode" in err, err
    assert not (tmp_path / "python").exists()
    code, _, err = run_cli("generate", EXAMPLE, "--target", "c", "--activations", "quick", "--out", tmp_path / "q")
    assert code == 2 and "argument --activations: invalid choice: 'quick'" in _error_line(err)
