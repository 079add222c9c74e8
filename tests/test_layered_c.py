"""The layered C form: compiled with gcc -std=c99 -Wall -Wextra -Werror -pedantic,
run one point per call and through the batch kernel (blocks of points,
a short last block included), against the unrolled closed form; its own
self-check program; and its branch-free exp and tanh against the C library."""

import subprocess

import mpmath
import numpy as np
import pytest

import symnet
from symnet.emit.c import layered as c_layered
from symnet.layered.memory import ArrayLayout, compact_layouts
from symnet.emit.layered_common import layered_programs
from symnet.layered.network import layered_network
from symnet.layered.steps import reads, written

import runners
from helpers import closed_form, ALL_TRANSFERS, points_for, random_network, require_tool
from test_layered import assert_close, mlp

STRICT = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
WHAT = {"value": "evaluate", "jacobian": "jacobian", "hessian": "hessian"}

DRIVER = """#include <stdio.h>
#include <stdlib.h>
#include "model.h"
/* driver N SIZE: N points from x.bin; writes single-point then batch results to out_FUNCTION.bin */
static void run(const char *name, void (*one)(const double *, double *),
                void (*many)(size_t, const double *, double *), const double *x, size_t n, size_t size)
{
    char path[64];
    double *out = malloc(2 * n * size * sizeof *out);
    FILE *file;
    size_t s;
    for (s = 0; s < n; ++s) one(x + s * MODEL_N_INPUTS, out + s * size);
    many(n, x, out + n * size);
    sprintf(path, "out_%s.bin", name);
    file = fopen(path, "wb");
    fwrite(out, sizeof *out, 2 * n * size, file);
    fclose(file);
    free(out);
}
int main(int argc, char **argv)
{
    size_t n = (size_t)strtoul(argv[1], NULL, 10);
    double *x = malloc(n * MODEL_N_INPUTS * sizeof *x);
    FILE *file = fopen("x.bin", "rb");
    if (argc != 2 || fread(x, sizeof *x, n * MODEL_N_INPUTS, file) != n * MODEL_N_INPUTS) return 2;
    fclose(file);
    run("evaluate", model_evaluate, model_evaluate_batch, x, n, MODEL_N_OUTPUTS);
    run("jacobian", model_jacobian, model_jacobian_batch, x, n, MODEL_N_OUTPUTS * MODEL_N_INPUTS);
    run("hessian", model_hessian, model_hessian_batch, x, n, MODEL_N_OUTPUTS * MODEL_N_INPUTS * MODEL_N_INPUTS);
    free(x);
    return 0;
}
"""


def compile_and_run(net, folder, X, flags):
    gcc = require_tool("gcc")
    symnet.generate(net, ["c"], folder, derivatives=tuple(WHAT), name="model", strategy="layered")
    (folder / "driver.c").write_text(DRIVER)
    done = subprocess.run([gcc, *STRICT, *flags, "driver.c", "model.c", "-lm", "-o", "driver"], cwd=folder,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    runners.assert_passed(runners.c_self_check(folder, "model", flags))
    np.ascontiguousarray(X, dtype="<f8").tofile(folder / "x.bin")
    done = subprocess.run(["./driver", str(len(X))], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    results = {}
    shapes = {"value": (net.n_outputs,), "jacobian": (net.n_outputs, net.n_inputs),
              "hessian": (net.n_outputs, net.n_inputs, net.n_inputs)}
    for what, function in WHAT.items():
        data = np.fromfile(folder / f"out_{function}.bin", dtype="<f8").reshape(2, len(X), -1)
        results[what] = [d.reshape((len(X),) + shapes[what]) for d in data]
    return results


@pytest.mark.parametrize("seed", range(8))
def test_layered_c_matches_the_unrolled_form_one_point_and_in_blocks(seed, tmp_path):
    net = random_network(seed, transfers=ALL_TRANSFERS)
    X = points_for(net, count=37, seed=seed)   # 37: a full block and a short one
    results = compile_and_run(net, tmp_path, X, ["-O2"])
    for what, (single, batch) in results.items():
        expected = closed_form(net, what)(X)
        assert_close(single, expected)
        assert_close(batch, expected)


@pytest.mark.parametrize("sizes", [(2, 6, 5, 4), (5, 6, 5, 1), (2, 9, 10, 3), (3, 10, 9, 2)])
@pytest.mark.parametrize("flags", [("-O3", "-march=native"), ("-O2", "-DSYMNET_USE_LIBM")], ids=["vector", "libm"])
def test_forward_and_reverse_accumulation_vectorized_and_with_the_c_library(sizes, flags, tmp_path):
    net = mlp(sizes)
    assert layered_network(net).jacobian_mode == ("forward" if sizes[0] <= sizes[-1] else "reverse")
    X = points_for(net, count=40)
    for what, (single, batch) in compile_and_run(net, tmp_path, X, list(flags)).items():
        expected = closed_form(net, what)(X)
        assert_close(single, expected)
        np.testing.assert_array_equal(batch, single)   # the same sums in the same order


def mlp_jacobian(net, X):
    """The Jacobian of a tests.test_layered.mlp by hand (chain rule through the maps)."""
    (in_map,), (out_map,) = net.inputs[0].steps, net.outputs[0].steps
    a = (X - in_map.xoffset) * in_map.gain + in_map.ymin
    J = np.broadcast_to(np.diag(in_map.gain), (len(X), net.n_inputs, net.n_inputs))
    for layer in net.layers:
        W = (layer.input_weights or layer.layer_weights)[0][1]
        n = a @ W.T + layer.bias
        a, slope = (np.tanh(n), 1 - np.tanh(n) ** 2) if layer.transfer == "tansig" else (n, np.ones_like(n))
        J = slope[:, :, None] * (W @ J)
    return J / out_map.gain[:, None]


@pytest.mark.parametrize("sizes", [(7, 34, 33, 6), (2, 33, 40, 3)])
def test_single_point_tiles_over_outputs_and_inputs(sizes, tmp_path):
    """From 32 units on, the single-point form tiles the products of several adjoints
    (reverse, 7-34-33-6) or tangents (forward, 2-33-40-3) and the Hessian's; checked against
    the Jacobian by hand, the Hessian against finite differences of that Jacobian, and
    both against the batch kernel (other loops, tested above against the unrolled form)."""
    net = mlp(sizes)
    assert "tile" in symnet_source(net, tmp_path / "source").split("void model_jacobian(")[1].split("\n}")[0]
    X = points_for(net, count=9)
    results = compile_and_run(net, tmp_path, X, ["-O3", "-march=native"])
    for single, batch in results.values():
        np.testing.assert_array_equal(single, batch)
    assert_close(results["jacobian"][0], mlp_jacobian(net, X))
    step = 1e-5 * (1 + np.abs(X))
    for i in range(net.n_inputs):
        shift = np.zeros_like(X)
        shift[:, i] = step[:, i]
        central = (mlp_jacobian(net, X + shift) - mlp_jacobian(net, X - shift)) / (2 * step[:, i, None, None])
        assert_close(results["hessian"][0][:, :, :, i], central, rtol=1e-6)


def symnet_source(net, folder):
    symnet.generate(net, ["c"], folder, derivatives=["jacobian"], name="model", strategy="layered")
    return (folder / "model.c").read_text()


MATH_DRIVER = """#include <stdio.h>
#include <stdlib.h>
#include "model.c"
int main(void)
{
    static double x[%(count)d], y[3 * %(count)d];
    FILE *file = fopen("args.bin", "rb");
    int i;
    if (fread(x, sizeof *x, %(count)d, file) != %(count)d) return 2;
    fclose(file);
    for (i = 0; i < %(count)d; ++i) {
        y[i] = symnet_exp(x[i]);
        y[%(count)d + i] = symnet_tanh(x[i]);
        y[2 * %(count)d + i] = symnet_tanh_slope(x[i]);
    }
    file = fopen("values.bin", "wb");
    fwrite(y, sizeof *y, 3 * %(count)d, file);
    fclose(file);
    return 0;
}
"""


def ulps(actual, expected):
    spacing = np.spacing(np.abs(expected))
    with np.errstate(invalid="ignore"):
        error = np.where(actual == expected, 0.0, np.abs(actual - expected) / spacing)
    return np.where(np.isnan(expected) & np.isnan(actual), 0.0, error)


@pytest.mark.parametrize("flags", [("-O3", "-march=native"), ("-O2", "-mno-fma")], ids=["fused", "plain"])
def test_branch_free_exp_and_tanh_are_within_a_few_ulp(flags, tmp_path):
    """exp, tanh and tanh's slope, with and without the fused multiply-add (SYMNET_MADD);
    the slope against sech(x)**2 at 40 digits (mpmath) on a sample."""
    gcc = require_tool("gcc")
    net = mlp((2, 3, 1))
    symnet.generate(net, ["c"], tmp_path, derivatives=["jacobian"], name="model", strategy="layered")
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-800, 800, 20000), rng.uniform(-30, 30, 20000), rng.uniform(-1, 1, 20000),
                        rng.uniform(-1, 1, 5000) * 10.0 ** rng.uniform(-300, -1, 5000),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 709.78, 709.79, -745.1, -745.2, -745.3, -708.5,
                         20.0, -20.0, 5e-324, 2.2250738585072014e-308]])
    x.astype("<f8").tofile(tmp_path / "args.bin")
    (tmp_path / "driver.c").write_text(MATH_DRIVER % {"count": x.size})
    done = subprocess.run([gcc, *STRICT, *flags, "driver.c", "-lm", "-o", "math"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    subprocess.run(["./math"], cwd=tmp_path, check=True)
    values = np.fromfile(tmp_path / "values.bin", dtype="<f8").reshape(3, -1)
    with np.errstate(over="ignore", under="ignore"):
        exp_reference, tanh_reference = np.exp(x), np.tanh(x)
    normal, tiny = exp_reference >= np.finfo(float).tiny, exp_reference < np.finfo(float).tiny
    assert np.max(ulps(values[0][normal], exp_reference[normal])) <= 2
    assert np.max(np.abs(values[0][tiny] - exp_reference[tiny])) <= 1e-320   # subnormal or zero
    assert np.max(ulps(values[1], tanh_reference)) <= 4
    assert np.isnan(values[:, np.isnan(x)]).all()
    sample = np.concatenate([rng.choice(np.flatnonzero(np.abs(x) < 400), 3000, replace=False),
                             np.flatnonzero(np.isfinite(x) & (np.abs(x) >= 300))[:200]])
    mpmath.mp.dps = 40
    slope_reference = np.array([float(mpmath.sech(mpmath.mpf(float(x[i]))) ** 2) for i in sample])
    normal = slope_reference >= np.finfo(float).tiny
    assert np.max(ulps(values[2][sample][normal], slope_reference[normal])) <= 6
    assert np.max(np.abs(values[2][sample][~normal] - slope_reference[~normal])) <= 1e-320
    assert (values[2][np.isinf(x)] == 0.0).all()


def live_at_each_step(program, split):
    """For each step, the arrays live across it (written at or before it, read at or after
    it; read anywhere in the split loop: live through all of it)."""
    steps = program.steps
    loop = range(split[2], len(steps)) if split else range(0)
    live = []
    for i in range(len(steps)):
        here = set()
        for operand, _ in program.arrays:
            writes = [k for k, step in enumerate(steps) if operand.name in written([step])]
            read_at = [k for k, step in enumerate(steps) if operand.name in {r.name for r in reads(step)}]
            if i in loop and writes and writes[0] < split[2] and any(k in loop for k in read_at):
                read_at.append(len(steps) - 1)
            if writes and writes[0] <= i and any(k >= i for k in read_at):
                here.add(operand.name)
        live.append(here)
    return live


@pytest.mark.parametrize("seed", range(6))
def test_arrays_sharing_a_union_are_never_live_together(seed):
    net = random_network(seed, transfers=ALL_TRANSFERS)
    for what, program in layered_programs(net, tuple(WHAT)):
        for layout in (ArrayLayout.compact(program), ArrayLayout.compact(program, split=False)):   # batch, single
            names = [name for members in layout.unions for name, _ in members]
            assert sorted(names) == sorted(o.name for o, _ in program.arrays if o.name != program.result.name)
            for here in live_at_each_step(program, layout.split):
                for members in layout.unions:
                    assert len(here & {name for name, _ in members}) <= 1, (what, here, members)


@pytest.mark.parametrize("sizes, axis, loop", [((9, 40, 36, 6), "out", "for (int o = 0; o < 6; ++o)"),
                                               ((4, 36, 40, 9), "in", "for (int m = 0; m < 4; ++m)")],
                         ids=["reverse", "forward"])
def test_one_output_row_or_input_column_at_a_time_keeps_blocks_in_a_small_stack(sizes, axis, loop, tmp_path,
                                                                                monkeypatch):
    """With a stack budget in which the plain layout (every array its own, the adjoints of
    every output row or the tangents of every input column at once) cannot hold the
    smallest block, the batch kernel still works on blocks: one row (column) at a time,
    and unions of arrays never live together."""
    net = mlp(sizes)
    program = dict(layered_programs(net, ("jacobian",)))["jacobian"]
    compact, plain = ArrayLayout.compact(program), ArrayLayout.plain(program)
    assert compact.split[:2] == (axis, sizes[0] if axis == "in" else sizes[-1])
    extra = sizes[0] * sizes[-1] + sizes[0] + 64   # result, inputs and slack per point
    budget = (compact.doubles() + extra) * 8 * c_layered.MIN_BLOCK
    assert (plain.doubles() + extra) * 8 * c_layered.MIN_BLOCK > 2 * budget
    monkeypatch.setattr(c_layered, "BLOCK_BYTES", budget)
    source = symnet_source(net, tmp_path / "source").split("void model_jacobian_batch(")[1]
    assert f"enum {{ BLOCK = {c_layered.MIN_BLOCK} }};" in source and "union {" in source and loop in source
    X = points_for(net, count=37)   # two full blocks and a short one
    results = compile_and_run(net, tmp_path / "run", X, ["-O3", "-march=native"])
    single, batch = results["jacobian"]
    np.testing.assert_array_equal(batch, single)
    assert_close(single, mlp_jacobian(net, X))


def test_hessian_batch_in_blocks_of_eight_points(tmp_path, monkeypatch):
    """A Hessian whose block of 16 points exceeds the stack budget runs in blocks of 8
    (faster than single-point calls there, unlike a Jacobian's), bit-identical to the
    single-point function and matching finite differences of the Jacobian by hand."""
    net = mlp((8, 32, 32, 6))
    program = dict(layered_programs(net, ("hessian",)))["hessian"]
    layout, _ = compact_layouts(program)
    doubles = c_layered._block_doubles(layout, 6 * 8 * 8, 8) + 64
    monkeypatch.setattr(c_layered, "BLOCK_BYTES", doubles * 8 * 8)
    X = points_for(net, count=19)
    results = compile_and_run(net, tmp_path, X, ["-O3", "-march=native"])
    assert "enum { BLOCK = 8 };" in (tmp_path / "model.c").read_text().split("void model_hessian_batch(")[1]
    single, batch = results["hessian"]
    np.testing.assert_array_equal(batch, single)
    step = 1e-5 * (1 + np.abs(X))
    for i in range(net.n_inputs):
        shift = np.zeros_like(X)
        shift[:, i] = step[:, i]
        central = (mlp_jacobian(net, X + shift) - mlp_jacobian(net, X - shift)) / (2 * step[:, i, None, None])
        assert_close(single[:, :, :, i], central, rtol=1e-6)


def test_hessian_one_output_row_at_a_time(tmp_path, monkeypatch):
    """A Hessian's adjoints and the outer products they weight run one output row at a
    time in the batch kernel, which holds one row of the adjoint arrays instead of all of
    them; the single-point function (here in unions) keeps them whole, so that its
    products tile over the output rows.  Batch and single-point results stay
    bit-identical, and both match the unrolled closed form."""
    monkeypatch.setattr(c_layered, "SINGLE_UNIONS_FROM", 0)
    net = mlp((9, 40, 36, 6))
    program = dict(layered_programs(net, ("hessian",)))["hessian"]
    split, whole = ArrayLayout.compact(program), ArrayLayout.compact(program, split=False)
    assert split.split[:2] == ("out", 6) and split.doubles() < whole.doubles()
    X = points_for(net, count=37)
    results = compile_and_run(net, tmp_path, X, ["-O3", "-march=native"])
    source = (tmp_path / "model.c").read_text()
    loop = "for (int o = 0; o < 6; ++o) {   /* one output row at a time */"
    single_body = source.split("void model_hessian(")[1].split("\n}")[0]
    batch_body = source.split("void model_hessian_batch(")[1].split("\n}")[0]
    assert loop not in single_body and loop in batch_body
    assert "double gc1[6][40];" in single_body and "double gc1[40][BLOCK];" in batch_body
    single, batch = results["hessian"]
    np.testing.assert_array_equal(batch, single)
    assert_close(single, closed_form(net, "hessian")(X))


@pytest.mark.parametrize("seed", range(3))
def test_single_point_functions_with_arrays_in_unions(seed, tmp_path, monkeypatch):
    """Large single-point functions keep arrays never needed together in unions (here
    forced for every size): value, Jacobian and Hessian still match the unrolled form."""
    monkeypatch.setattr(c_layered, "SINGLE_UNIONS_FROM", 0)
    net = random_network(seed, transfers=ALL_TRANSFERS)
    X = points_for(net, count=37, seed=seed)
    results = compile_and_run(net, tmp_path, X, ["-O2"])
    body = (tmp_path / "model.c").read_text().split("void model_jacobian(")[1].split("\n}")[0]
    assert "union {" in body
    for what, (single, batch) in results.items():
        expected = closed_form(net, what)(X)
        assert_close(single, expected)
        assert_close(batch, expected)


#: Batch sizes around the wide Hessian kernel's block of 8 points: one, a short block, a
#: full one, one more, and odd sizes spanning several blocks.
WIDE_BATCHES = (1, 7, 8, 9, 13, 37)


def hessians_at_batch_sizes(net, folder, X, counts):
    """{count: (single-point, batch) Hessians of the first ``count`` points of X}, from one build."""
    compile_and_run(net, folder, X, ["-O3", "-march=native"])
    results, size = {}, net.n_outputs * net.n_inputs ** 2
    for count in counts:
        done = subprocess.run(["./driver", str(count)], cwd=folder, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        data = np.fromfile(folder / "out_hessian.bin", dtype="<f8").reshape(2, count, -1)
        results[count] = [d.reshape(count, net.n_outputs, net.n_inputs, net.n_inputs) for d in data]
    return results


@pytest.mark.parametrize("seed", range(8))
def test_wide_hessian_kernel_on_every_transfer_function_and_batch_size(seed, tmp_path, monkeypatch):
    """The batch kernel of a wide network's Hessian (blocks of 8 points within
    HESSIAN_BLOCK_BYTES, one vector of points per register tile, the scaling of a constant
    tangent folded into the product reading it, one row of the result at a time), forced
    here on random networks with every transfer function: bit-identical to the
    single-point function at every batch size, and equal to the unrolled closed form."""
    monkeypatch.setattr(c_layered, "BLOCK_BYTES", 1)   # no block but the Hessian's
    monkeypatch.setattr(c_layered, "HESSIAN_BLOCK_BYTES", 1 << 30)
    net = random_network(seed, transfers=ALL_TRANSFERS)
    X = points_for(net, count=max(WIDE_BATCHES), seed=seed)
    results = hessians_at_batch_sizes(net, tmp_path, X, WIDE_BATCHES)
    batch_body = (tmp_path / "model.c").read_text().split("void model_hessian_batch(")[1].split("\n}")[0]
    assert "enum { BLOCK = 8 };" in batch_body and "BLOCK / 2" not in batch_body
    expected = closed_form(net, "hessian")(X)
    for count, (single, batch) in results.items():
        np.testing.assert_array_equal(batch, single)
        assert_close(single, expected[:count])


def test_wide_hessian_in_blocks_of_eight_within_the_hessian_budget(tmp_path):
    """14-96-96-6: a block of 16 points exceeds BLOCK_BYTES, one of 8 fits HESSIAN_BLOCK_BYTES
    once the first layer's constant tangent is scaled row by row inside its product (no
    14x96 array per point) and the block holds one output row of the result at a time.
    The batch kernel is bit-identical to the single-point function at every batch size,
    matches finite differences of the Jacobian by hand, and the unrolled closed form."""
    net = mlp((14, 96, 96, 6))
    program = dict(layered_programs(net, ("hessian",)))["hessian"]
    doubles, folded, layout, rows = c_layered._block_plan(program, 6 * 14 * 14, 14)
    assert folded is not program and rows == 6
    assert (doubles + 64) * 8 * 16 > c_layered.BLOCK_BYTES >= (doubles + 64) * 8 * 4
    assert (doubles + 64) * 8 * 8 <= c_layered.HESSIAN_BLOCK_BYTES
    X = points_for(net, count=max(WIDE_BATCHES))
    results = hessians_at_batch_sizes(net, tmp_path, X, WIDE_BATCHES)
    source = (tmp_path / "model.c").read_text()
    batch_body = source.split("void model_hessian_batch(")[1].split("\n}")[0]
    assert "enum { BLOCK = 8 };" in batch_body and "double result[196][BLOCK];" in batch_body
    assert "row0[k][p] = TN1[m][k] *" in batch_body and "ta1" not in batch_body
    for count, (single, batch) in results.items():
        np.testing.assert_array_equal(batch, single)
    single = results[max(WIDE_BATCHES)][0]
    assert_close(single, closed_form(net, "hessian")(X), rtol=1e-10)
    step = 1e-5 * (1 + np.abs(X))
    for i in range(net.n_inputs):
        shift = np.zeros_like(X)
        shift[:, i] = step[:, i]
        central = (mlp_jacobian(net, X + shift) - mlp_jacobian(net, X - shift)) / (2 * step[:, i, None, None])
        assert_close(single[:, :, :, i], central, rtol=1e-6)


def test_self_check_of_a_wide_hessian_at_fewer_points(tmp_path, monkeypatch):
    """The full Hessian of a wide network is checked at as many points (3 to 5) as keep its
    30-digit reference within REFERENCE_BUDGET: 20-256-256-10 at 3, 20-160-160-3 and any
    request without a full Hessian at 5.  Forced here on a small network (budget lowered):
    its test vectors match the unrolled closed form at 3 points, and the generated C
    self-check, compiled with strict flags, runs them all and passes."""
    from symnet.emit import selfcheck
    assert selfcheck.point_count(mlp((20, 256, 256, 10)), ("hessian",)) == 3
    assert selfcheck.point_count(mlp((20, 160, 160, 3)), ("value", "hessian")) == 5
    assert selfcheck.point_count(mlp((20, 256, 256, 10)), ("value", "jacobian")) == 5
    net = mlp((6, 12, 10, 2), seed=3)
    monkeypatch.setattr(selfcheck, "REFERENCE_BUDGET", (1 + 6 + 21) * (6 + 24) * 3)
    assert selfcheck.point_count(net, ("hessian",)) == 3
    vectors = selfcheck._check_vectors(net, ("value", "hessian"), "double")
    assert vectors.point_count == 3
    hessian = next(block for block in vectors.blocks if block.what == "hessian")
    assert_close(hessian.expected, closed_form(net, "hessian")(vectors.points), rtol=1e-12)
    symnet.generate(net, ["c"], tmp_path, derivatives=("value", "hessian"), name="model", strategy="layered")
    values = 3 * (2 + 2 * 6 * 6) * 2   # points x (value + Hessian) x single-point and batch
    runners.assert_passed(runners.c_self_check(tmp_path, "model"), checks=values)


ALL_SPEC_FUNCTIONS = ("value", "jacobian", "hessian", "jvp", "vjp", "hvp", "laplacian", "d2y/dx1^2",
                      "d2y/dx1dx2", "dy/dx2")


@pytest.mark.parametrize("activations", ["exact", "fast"])
def test_element_wise_helpers_are_inlined_into_every_function_of_a_large_file(activations, tmp_path):
    """With many functions in one file, gcc -O3 would keep symnet_tanh and its helpers as
    calls (its inliner's growth limits), and the loops that call them would not vectorize:
    every helper is forced inline, so the object file holds none of them."""
    gcc, nm = require_tool("gcc"), require_tool("nm")
    symnet.generate(mlp((3, 24, 24, 24, 1)), ["c"], tmp_path, derivatives=ALL_SPEC_FUNCTIONS, name="model",
                    strategy="layered", activations=activations)
    done = subprocess.run([gcc, *STRICT, "-O3", "-march=native", "-c", "model.c", "-o", "model.o"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    symbols = subprocess.run([nm, "model.o"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    defined = [line.split()[-1] for line in symbols.splitlines() if len(line.split()) == 3]
    assert "model_laplacian" in defined
    assert not [name for name in defined if name.startswith("symnet_")], defined


SPEC_DRIVER = """#include <stdio.h>
#include <stdlib.h>
#include "model.h"
/* driver N: N points from x.bin; writes each point's Laplacian, d2y1/dx1dx2 and d2y1/dx1^2 to out.bin */
int main(int argc, char **argv)
{
    size_t n = (size_t)strtoul(argv[1], NULL, 10), s;
    double *x = malloc(n * MODEL_N_INPUTS * sizeof *x), *out = malloc(n * (MODEL_N_OUTPUTS + 2) * sizeof *out);
    FILE *file = fopen("x.bin", "rb");
    if (argc != 2 || fread(x, sizeof *x, n * MODEL_N_INPUTS, file) != n * MODEL_N_INPUTS) return 2;
    fclose(file);
    for (s = 0; s < n; ++s) {
        model_laplacian(x + s * MODEL_N_INPUTS, out + s * (MODEL_N_OUTPUTS + 2));
        model_d2y1_dx1_dx2(x + s * MODEL_N_INPUTS, out + s * (MODEL_N_OUTPUTS + 2) + MODEL_N_OUTPUTS);
        model_d2y1_dx1_dx1(x + s * MODEL_N_INPUTS, out + s * (MODEL_N_OUTPUTS + 2) + MODEL_N_OUTPUTS + 1);
    }
    file = fopen("out.bin", "wb");
    fwrite(out, sizeof *out, n * (MODEL_N_OUTPUTS + 2), file);
    fclose(file);
    free(x);
    free(out);
    return 0;
}
"""


def test_products_with_the_same_weights_in_register_tiles(tmp_path):
    """The Laplacian's and two second partials' forward sweeps (the value's, every tangent's and
    the second derivative's products through each layer's weights: 5, 4 and 3 products) in one
    loop nest, a tile of units at a time (52 units: tiles over 32 for up to 4 products, over 16,
    and a rest of 4; 5 units: the rest only), with
    each target's tile size: against the closed form and finite differences of the Jacobian
    by hand, and -O2 (SSE2's tiles, which read copies of the sources) bitwise equal to -O2 -mavx
    (AVX's, which broadcast them), the sums in one order."""
    gcc = require_tool("gcc")
    net = mlp((3, 20, 52, 5, 2))
    symnet.generate(net, ["c"], tmp_path, derivatives=["laplacian", "d2y1/dx1dx2", "d2y1/dx1^2"], name="model",
                    strategy="layered")
    source = (tmp_path / "model.c").read_text()
    assert "j += SYMNET_GROUP_UNITS_MANY" in source and "j += SYMNET_GROUP_UNITS)" in source
    assert "j += SYMNET_GROUP_UNITS_16)" in source
    assert "3 products with the same weights, each weight read once for all: a tile" in source
    assert "#if SYMNET_SOURCE_COPIES > 1" in source and "#define SYMNET_SOURCE_COPIES 2" in source
    (tmp_path / "driver.c").write_text(SPEC_DRIVER)
    X = points_for(net, count=7)
    np.ascontiguousarray(X, dtype="<f8").tofile(tmp_path / "x.bin")
    results = {}
    for flags in (["-O2"], ["-O2", "-mavx"], ["-O3", "-march=native"]):
        done = subprocess.run([gcc, *STRICT, *flags, "driver.c", "model.c", "-lm", "-o", "driver"], cwd=tmp_path,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        subprocess.run(["./driver", str(len(X))], cwd=tmp_path, check=True)
        results[" ".join(flags)] = np.fromfile(tmp_path / "out.bin", dtype="<f8").reshape(len(X), -1)
    np.testing.assert_array_equal(results["-O2"], results["-O2 -mavx"])
    step = 1e-5 * (1 + np.abs(X))
    central = []
    for i in range(net.n_inputs):
        shift = np.zeros_like(X)
        shift[:, i] = step[:, i]
        central.append((mlp_jacobian(net, X + shift) - mlp_jacobian(net, X - shift)) / (2 * step[:, i, None, None]))
    H = np.stack(central, axis=-1)   # (points, outputs, k, m)
    for got in results.values():
        assert_close(got[:, :2], closed_form(net, "laplacian")(X), rtol=1e-10)
        assert_close(got[:, 2], closed_form(net, "d2y1/dx1dx2")(X)[:, 0], rtol=1e-10)
        assert_close(got[:, :2], np.einsum("pikk->pi", H), rtol=1e-6)
        assert_close(got[:, 2], H[:, 0, 0, 1], rtol=1e-6)
        assert_close(got[:, 3], closed_form(net, "d2y1/dx1^2")(X)[:, 0], rtol=1e-10)
        assert_close(got[:, 3], H[:, 0, 0, 0], rtol=1e-6)
