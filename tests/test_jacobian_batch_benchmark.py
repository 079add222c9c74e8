"""The plumbing of the Jacobian batch benchmark (benchmarks/jacobian_batch.py): symnet's
exact and fast batch Jacobians of 2-64-64-64-1, built as the benchmark builds them, agree
with JAX's (computed independently) and central differences, and a run checks every
backend before it times them.
Nothing about speed is asserted."""

import sys

import numpy as np
import pytest

from conftest import REPO
from helpers import import_file, require_module, require_tool

sys.path.insert(0, str(REPO / "benchmarks"))
bench = import_file(REPO / "benchmarks" / "jacobian_batch.py", "jacobian_batch")


def jax_jacobians(net, X):
    jax = require_module("jax")
    jax.config.update("jax_enable_x64", True)
    f = bench.others.raw_outputs(net, jax.numpy.asarray, jax.numpy.tanh)
    return np.asarray(jax.vmap(jax.jacrev(f))(X))


@pytest.mark.parametrize("activations", ["exact", "fast"])
def test_built_batch_agrees_with_jax_and_central_differences(tmp_path, activations):
    require_tool("gcc")
    net = bench.nets.mlp(bench.NET)
    X = np.ascontiguousarray(bench.sample_points(net, 37, seed=5))   # one block and a short one
    call = bench.c_call(bench.build(tmp_path / activations, activations, ["-O2"]), net.n_outputs, net.n_inputs)
    J = call(X)
    expected = jax_jacobians(net, X)
    assert np.max(np.abs(J - expected)) <= 1e-12 * np.max(np.abs(expected))
    value = bench.others.raw_outputs(net, np.asarray, np.tanh)
    h = 1e-6 / np.abs(net.inputs[0].steps[0].gain)
    for x, jacobian in zip(X[:4], J[:4]):
        for k in range(net.n_inputs):
            step = np.eye(net.n_inputs)[k] * h[k]
            fd = (value(x + step) - value(x - step)) / (2 * h[k])
            np.testing.assert_allclose(jacobian[:, k], fd, rtol=1e-6, atol=1e-8 * np.max(np.abs(J)))


def test_a_run_checks_then_times_every_backend(capsys):
    require_tool("gcc")
    require_module("jax")
    bench.main(["--rounds", "1", "--calls", "1", "--flags=-O2"])
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split(" | ")[0].strip("| ") for line in lines if line.startswith("| ") and "---" not in line}
    assert rows == {"backend", "symnet exact", "symnet fast", "jax.jit(vmap(jacrev))"}
