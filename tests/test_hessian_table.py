"""The plumbing of the Hessian comparison benchmark (benchmarks/hessian_table.py) on the
smallest net: every C baseline it builds (symnet exact and fast, CasADi SX and MX) computes,
one point per call and in a batch, the Hessian that JAX computes independently; a baseline
that is off is refused before it could be timed; a generation past its time limit becomes a
table entry instead of a wait.  Nothing about speed is asserted."""

import sys

import numpy as np
import pytest

from conftest import REPO
from helpers import import_file, require_module, require_tool

sys.path.insert(0, str(REPO / "benchmarks"))
table = import_file(REPO / "benchmarks" / "hessian_table.py", "hessian_table")
LABEL = "3-10-1"
FLAGS = ["-O2"]


@pytest.fixture(scope="module")
def points(tmp_path_factory):
    from symnet.reference.finite_differences import sample_points
    net = table.nets.mlp(LABEL)
    X = sample_points(net, table.CHECK_POINTS, seed=3)
    folder = tmp_path_factory.mktemp("hessian_table")
    X.tofile(folder / "points.bin")
    return net, X, folder


def jax_hessians(net, X):
    jax = require_module("jax")
    jax.config.update("jax_enable_x64", True)
    f = table.others.raw_outputs(net, jax.numpy.asarray, jax.numpy.tanh)
    return np.asarray(jax.vmap(jax.hessian(f))(X)).reshape(len(X), -1)


def test_reference_is_the_hessian_by_central_differences(points):
    require_module("jax")   # without it the benchmark falls back to symnet's own Hessian
    net, X, _ = points
    expected, source = table.reference_hessians(net, X)
    assert source == "JAX" and expected.shape == (len(X), net.n_outputs * net.n_inputs ** 2)
    value = symnet_value(net)
    h = 3e-4 / np.abs(net.inputs[0].steps[0].gain)     # a step scaled to each input's range
    for x, hessian in zip(X, expected.reshape(len(X), net.n_inputs, net.n_inputs)):
        for j in range(net.n_inputs):
            for k in range(net.n_inputs):
                ej, ek = np.eye(net.n_inputs)[j] * h[j], np.eye(net.n_inputs)[k] * h[k]
                fd = (value(x + ej + ek) - value(x + ej - ek) - value(x - ej + ek) + value(x - ej - ek)) / (
                    4 * h[j] * h[k])
                assert abs(fd - hessian[j, k]) <= 1e-5 * np.max(np.abs(hessian)) + 1e-7


def symnet_value(net):
    import symnet
    evaluate = symnet.derive(net, "value")
    return lambda x: float(np.asarray(evaluate(x[None, :])).reshape(-1)[0])


@pytest.mark.parametrize("activations", ["exact", "fast"])
def test_symnet_rows_agree_with_jax(points, activations):
    require_tool("gcc")
    net, X, folder = points
    row = table.symnet_row(f"symnet-{activations}", net, folder, FLAGS, activations, folder / "points.bin")
    table.check(row, X, jax_hessians(net, X))
    assert row.note == "" and row.error <= 1e-13 and row.times is not None


@pytest.mark.parametrize("kind", ["SX", "MX"])
def test_casadi_rows_agree_with_jax(points, kind):
    require_tool("gcc")
    require_module("casadi")
    net, X, folder = points
    row = table.generated_row(f"casadi-{kind}", LABEL, net, folder, FLAGS, 120, folder / "points.bin")
    assert row.note == ""
    table.check(row, X, jax_hessians(net, X))
    assert row.note == "" and row.error <= 1e-13 and row.times is not None
    single, batch = row.evaluate(X)
    np.testing.assert_array_equal(single, batch)    # the batch loops over the one-point function


@pytest.mark.parametrize("wrong", [lambda H: H * (1 + 1e-6), lambda H: H.T[::-1].T, lambda H: H * np.nan])
def test_a_wrong_baseline_is_refused_and_never_timed(points, wrong):
    net, X, _ = points
    expected = jax_hessians(net, X)
    row = table.Row("wrong", evaluate=lambda Z: [expected, wrong(expected)], times=lambda budget: (1.0, 1.0))
    table.check(row, X, expected)
    assert row.note.startswith("refused: off the reference") and row.times is None
    table.measure([row], rounds=2, budget=0.01)
    assert row.single == [] and row.batch == []


def test_generation_past_its_limit_is_a_table_entry(points):
    require_module("casadi")
    net, _, folder = points
    row = table.generated_row("casadi-SX", LABEL, net, folder / "slow", FLAGS, 0.01, folder / "points.bin")
    assert row.note == "not generated in 0.01 s" and row.times is None
    assert "not generated in 0.01 s" in table.cell(row, "single", 1.0)


def test_a_baseline_past_its_limit_is_not_tried_on_bigger_nets():
    given_up, made = {}, []

    def make(note):
        def row(key):
            made.append(key)
            return table.Row(key, note=note)
        return row
    first = table.unless_given_up("symforce", "5-20-20-3", given_up, make("not generated in 45 s"))
    assert first.note == "not generated in 45 s" and made == ["symforce"]
    second = table.unless_given_up("symforce", "2-64-64-64-1", given_up, make(""))
    assert second.note == "not generated in 45 s on 5-20-20-3" and second.times is None and made == ["symforce"]
    failed = table.unless_given_up("casadi-MX", "5-20-20-3", given_up, make("fails: out of memory"))
    assert failed.note == "fails: out of memory" and "casadi-MX" not in given_up   # only time-outs are final


def test_only_the_batch_times_the_table_shows_are_taken(points):
    require_tool("gcc")
    net, X, folder = points
    row = table.symnet_row("symnet-exact", net, folder / "timed", FLAGS, "exact", folder / "points.bin")
    single, batch = row.times(0.01)
    assert single > 0 and batch > 0
    built = folder / "timed" / "symnet-exact"
    unshown = table.c_row("casadi-SX", net, built, built / "bench", folder / "points.bin", 0.0)
    single, batch = unshown.times(0.01)
    assert single > 0 and batch is None
