"""The neural ODE example (examples/neural_ode/neural_ode.json, examples/neural_ode_demo.py): the
committed network is what its seeded script writes, and the demo, at a small size,
integrates the same trajectory with symnet's Jacobian, with finite differences and as
an FMU in FMPy, the exact Jacobian saving the finite differences' calls."""

import subprocess
import sys

import numpy as np
import pytest

import symnet
from symnet.importers.json_format import network_to_dict

from conftest import REPO
from helpers import closed_form, import_file, require_module

EXAMPLES = REPO / "examples"


@pytest.fixture(scope="module")
def demo():
    sys.path.insert(0, str(EXAMPLES))
    return import_file(EXAMPLES / "neural_ode_demo.py", "neural_ode_demo")


def test_the_committed_json_is_what_the_seeded_script_writes(demo):
    writer = import_file(EXAMPLES / "write_neural_ode.py", "write_neural_ode")
    expected = writer.neural_ode(np.random.default_rng(writer.SEED))
    committed = symnet.load(EXAMPLES / "neural_ode" / "neural_ode.json")
    assert network_to_dict(committed) == network_to_dict(expected), "run: python examples/write_neural_ode.py"
    assert committed.n_inputs == writer.STATES + 1 and committed.n_outputs == writer.STATES


def test_the_right_hand_side_is_the_formula_it_is_built_from(demo, tmp_path):
    net = demo.load_network(4)
    module = demo.numpy_target(net, tmp_path)
    X = np.random.default_rng(2).normal(size=(3, 5))
    hidden, derivative = net.layers
    W1, w = hidden.input_weights[0][1], hidden.input_weights[1][1]
    D, W2 = derivative.input_weights[0][1], derivative.layer_weights[0][1]
    expected = X[:, :4] @ D.T + np.tanh(X[:, :4] @ W1.T + X[:, 4:] @ w.T + hidden.bias) @ W2.T
    np.testing.assert_allclose(module.evaluate(X), expected, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(module.jacobian(X), closed_form(net, "jacobian")(X), rtol=1e-12, atol=1e-12)


def test_the_demo_integrates_one_trajectory_three_ways(demo, tmp_path):
    require_module("fmpy")   # the demo runs its FMU in FMPy
    runs = demo.run(n_states=6, stop_time=1.0, out_dir=tmp_path)
    assert set(runs) == {"BDF, symnet Jacobian", "BDF, finite differences", "Radau, symnet Jacobian",
                         "Radau, finite differences", "FMU in FMPy (CVODE)"}
    for label, result in runs.items():
        assert result["error"] < 1e-4, label
    for method in ("BDF", "Radau"):
        exact, differences = runs[f"{method}, symnet Jacobian"], runs[f"{method}, finite differences"]
        assert np.max(np.abs(exact["states"] - differences["states"])) < 1e-8
        # each finite-difference Jacobian costs one call per state: the exact one saves them
        assert exact["rhs_calls"] <= differences["rhs_calls"] - 6 * differences["jacobians"], method
    assert np.max(np.abs(runs["FMU in FMPy (CVODE)"]["states"][-1] - np.linspace(1.0, -1.0, 6))) > 0.1


def test_the_demo_prints_its_table(tmp_path):
    require_module("fmpy")   # the demo runs its FMU in FMPy
    result = subprocess.run([sys.executable, str(EXAMPLES / "neural_ode_demo.py"), "--states", "4",
                             "--stop-time", "0.5", "--out", str(tmp_path)], capture_output=True, text=True,
                            timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "BDF, symnet Jacobian" in result.stdout and "FMU in FMPy (CVODE)" in result.stdout
