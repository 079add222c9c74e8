"""The fmu target: FMI 2.0 units read by FMPy (an independent importer).  The archive
passes fmpy's validation; simulating the static block (Model Exchange and
Co-Simulation) gives the NumPy target's values at the inputs FMPy interpolates; the
directional derivatives read through FMPy's API are the NumPy target's Jacobian; a
neural ODE (``--ode N``) simulated by FMPy follows SciPy's trajectory of the same
right-hand side; the archive is deterministic; without gcc it is a source FMU that
FMPy builds."""

import zipfile

import numpy as np
import pytest

import symnet
from symnet import Input, Layer, Network, Output
from symnet.errors import UnsupportedError

from conftest import REPO
from helpers import import_file, require_module, require_tool
from runners import open_fmu
from test_cli_options import run_cli

fmpy = require_module("fmpy")
from fmpy.validation import validate_fmu  # noqa: E402  (after the check that fmpy is there)

require_tool("gcc")   # builds the FMU's binary

PXYZ = REPO / "examples" / "pxyz.json"
CLASSIFIER = REPO / "examples" / "classifier.json"


def numpy_target(net, folder):
    """The NumPy target's module for ``net``: the reference values and Jacobians."""
    symnet.generate(net, ["numpy"], folder, derivatives=("value", "jacobian"), name="reference")
    return import_file(folder / "reference_numpy.py", f"reference_numpy_{abs(hash(str(folder)))}")


def small_ode(n_states=3, seed=4):
    """xdot = -diag(rates) x + W tanh(A x + B u + b): a small, mildly stiff neural ODE."""
    rng = np.random.default_rng(seed)
    hidden = 5
    rates = np.geomspace(1.0, 50.0, n_states)
    layers = [Layer(hidden, "tansig", rng.normal(size=hidden),
                    [(0, rng.normal(scale=0.7, size=(hidden, n_states))), (1, rng.normal(size=(hidden, 1)))],
                    name="hidden"),
              Layer(n_states, "purelin", np.zeros(n_states), [(0, -np.diag(rates))],
                    [(0, rng.normal(scale=0.5, size=(n_states, hidden)))], name="xdot")]
    return Network([Input("x", n_states), Input("u", 1)], layers, [Output("xdot", 1)], name="ode")


def generate_fmu(net, folder, **options):
    return symnet.generate(net, ["fmu"], folder, **options)[0]


@pytest.mark.parametrize("model", [PXYZ, CLASSIFIER], ids=["pxyz", "classifier"])
@pytest.mark.parametrize("strategy", ["unrolled", "layered"])
def test_fmpy_validates_the_static_block(model, strategy, tmp_path):
    path = generate_fmu(symnet.load(model), tmp_path, strategy=strategy)
    assert validate_fmu(str(path)) == []
    description = fmpy.read_model_description(str(path))
    assert description.modelExchange.providesDirectionalDerivative
    assert description.coSimulation.providesDirectionalDerivative
    names = zipfile.ZipFile(path).namelist()
    assert f"binaries/linux64/{path.stem}.so" in names
    assert {f"sources/{path.stem}.c", f"sources/{path.stem}_fmi2.c", "sources/fmi2Functions.h"} <= set(names)


def test_the_model_structure_lists_every_input_for_every_output(tmp_path):
    net = symnet.load(CLASSIFIER)
    description = fmpy.read_model_description(str(generate_fmu(net, tmp_path)))
    inputs = [v for v in description.modelVariables if v.causality == "input"]
    assert len(inputs) == net.n_inputs and len(description.outputs) == net.n_outputs
    for unknowns in (description.outputs, description.initialUnknowns):
        assert [u.dependencies for u in unknowns] == [inputs] * net.n_outputs


@pytest.mark.parametrize("kind", ["ModelExchange", "CoSimulation"])
def test_simulating_the_static_block_gives_the_numpy_targets_values(kind, tmp_path):
    net = symnet.load(CLASSIFIER)
    path = generate_fmu(net, tmp_path / "fmu")
    reference = numpy_target(net, tmp_path / "numpy")
    names = [v.name for v in fmpy.read_model_description(str(path)).modelVariables]
    low, high = np.array([[4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5]])
    signal = np.array([(0.0, *low), (1.0, *high)],
                      dtype=[("time", float)] + [(name, float) for name in names[:net.n_inputs]])
    result = fmpy.simulate_fmu(str(path), fmi_type=kind, input=signal, stop_time=1.0, output_interval=0.125,
                               output=names[net.n_inputs:])
    times = result["time"]
    if kind == "CoSimulation":   # inputs are set at a communication point and held through the step
        times = np.maximum(times - 0.125, 0.0)
    X = low + np.outer(times, high - low)   # FMPy interpolates the input linearly
    expected = reference.evaluate(X)
    simulated = np.column_stack([result[name] for name in names[net.n_inputs:]])
    assert len(times) == 9
    np.testing.assert_allclose(simulated, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("strategy", ["unrolled", "layered"])
def test_directional_derivatives_through_fmpy_are_the_numpy_jacobian(strategy, tmp_path):
    net = symnet.load(CLASSIFIER)
    path = generate_fmu(net, tmp_path / "fmu", strategy=strategy)
    reference = numpy_target(net, tmp_path / "numpy")
    rng = np.random.default_rng(8)
    X = rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(5, net.n_inputs))
    inputs = list(range(net.n_inputs))
    outputs = list(range(net.n_inputs, net.n_inputs + net.n_outputs))
    model = open_fmu(path)
    try:
        for x, jacobian in zip(X, reference.jacobian(X)):
            model.setReal(inputs, list(x))
            seed = rng.normal(size=net.n_inputs)
            along = np.array(model.getDirectionalDerivative(outputs, inputs, list(seed)))
            np.testing.assert_allclose(along, jacobian @ seed, rtol=1e-12, atol=1e-12)
            for k in inputs:
                column = np.array(model.getDirectionalDerivative(outputs, [k], [1.0]))
                assert np.max(np.abs(column - jacobian[:, k])) <= 1e-12 * max(1.0, np.max(np.abs(jacobian)))
    finally:
        model.terminate()
        model.freeInstance()


def test_a_neural_ode_is_validated_with_states_and_their_derivatives(tmp_path):
    code, out, err = run_cli("generate", "--help")
    assert "--ode" in out
    net = small_ode()
    path = generate_fmu(net, tmp_path, ode_states=3)
    assert validate_fmu(str(path)) == []
    description = fmpy.read_model_description(str(path))
    assert description.numberOfContinuousStates == 3
    derivatives = [unknown.variable for unknown in description.derivatives]
    assert [v.name for v in derivatives] == ["der(x_1)", "der(x_2)", "der(x_3)"]
    assert [v.derivative.name for v in derivatives] == ["x_1", "x_2", "x_3"]
    assert [v.name for v in description.modelVariables if v.causality == "input"] == ["u"]


def scipy_trajectory(reference, x0, u, times):
    """The reference: SciPy's Radau with the NumPy target's exact Jacobian, tight tolerances."""
    from scipy.integrate import solve_ivp
    n = len(x0)

    def rhs(t, x):
        return reference.evaluate(np.append(x, u)[None, :])[0]

    def jac(t, x):
        return reference.jacobian(np.append(x, u)[None, :])[0][:, :n]
    solution = solve_ivp(rhs, (times[0], times[-1]), x0, method="Radau", jac=jac, t_eval=times,
                         rtol=1e-11, atol=1e-13)
    assert solution.success
    return solution.y.T


@pytest.mark.parametrize("kind", ["ModelExchange", "CoSimulation"])
def test_a_neural_ode_fmu_follows_scipys_trajectory(kind, tmp_path):
    net = small_ode()
    path = generate_fmu(net, tmp_path / "fmu", ode_states=3)
    reference = numpy_target(net, tmp_path / "numpy")
    x0, u = np.array([1.0, -0.5, 0.25]), 0.3
    start = {"x_1": x0[0], "x_2": x0[1], "x_3": x0[2], "u": u}
    options = {"relative_tolerance": 1e-10} if kind == "ModelExchange" else {}
    # Co-Simulation: 10 RK4 steps of 1e-4 per communication step, well inside RK4's stability for rate 50
    result = fmpy.simulate_fmu(str(path), fmi_type=kind, start_values=start, stop_time=1.0,
                               output_interval=1e-3, output=["x_1", "x_2", "x_3"], **options)
    simulated = np.column_stack([result[f"x_{k}"] for k in (1, 2, 3)])
    expected = scipy_trajectory(reference, x0, u, result["time"])
    assert np.max(np.abs(simulated - expected)) < 1e-6
    assert np.max(np.abs(simulated[-1] - x0)) > 0.1, "the states move"


def test_the_directional_derivatives_of_a_neural_ode_are_the_state_jacobian(tmp_path):
    net = small_ode()
    path = generate_fmu(net, tmp_path / "fmu", ode_states=3)
    reference = numpy_target(net, tmp_path / "numpy")
    x = np.array([0.4, -1.0, 2.0, 0.7])
    model = open_fmu(path)
    try:
        model.setReal([0, 1, 2, 3], list(x))
        derivatives, states = [4, 5, 6], [0, 1, 2]
        seed = [0.5, -2.0, 1.5]
        along = np.array(model.getDirectionalDerivative(derivatives, states, seed))
        np.testing.assert_allclose(along, reference.jacobian(x[None, :])[0][:, :3] @ seed, rtol=1e-12, atol=1e-12)
        # a state read as an output: its own derivative is the seed
        assert model.getDirectionalDerivative(states, states, seed) == seed
    finally:
        model.terminate()
        model.freeInstance()


def test_the_archive_is_deterministic(tmp_path):
    net = symnet.load(PXYZ)
    first = generate_fmu(net, tmp_path / "a").read_bytes()
    second = generate_fmu(net, tmp_path / "b").read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "a" / "pxyz.fmu") as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_without_gcc_the_fmu_is_a_source_fmu_that_fmpy_builds(tmp_path, monkeypatch):
    require_tool("cmake")   # FMPy builds a source FMU with cmake
    from fmpy.build import build_platform_binary
    net = symnet.load(PXYZ)
    monkeypatch.setattr("symnet.emit.fmu.archive.shutil.which", lambda name: None)
    path = generate_fmu(net, tmp_path)
    assert not any(name.startswith("binaries/") for name in zipfile.ZipFile(path).namelist())
    assert validate_fmu(str(path)) == []
    folder = tmp_path / "unzipped"
    zipfile.ZipFile(path).extractall(folder)
    (tmp_path / "build").mkdir()
    build_platform_binary(folder, build_dir=tmp_path / "build")
    result = fmpy.simulate_fmu(str(folder), start_values={"XYZ_1": 300.0, "XYZ_2": 0.02, "XYZ_3": 2.0},
                               stop_time=1.0, output=["P"])
    expected = symnet.derive(net, "value")(np.array([[300.0, 0.02, 2.0]]))[0, 0]
    np.testing.assert_allclose(result["P"], expected, rtol=1e-12)


def test_more_states_than_outputs_is_refused_by_the_command_line(tmp_path):
    with pytest.raises(UnsupportedError, match="--ode 2"):
        symnet.generate(symnet.load(PXYZ), ["fmu"], tmp_path, ode_states=2)
    code, out, err = run_cli("generate", PXYZ, "--target", "fmu", "--ode", "4", "--out", tmp_path)
    assert code != 0 and "--ode 4" in err and "Traceback" not in err


def test_an_fmu_asked_for_the_value_alone_still_carries_the_jacobian(tmp_path):
    path = generate_fmu(symnet.load(PXYZ), tmp_path, derivatives=("value",))
    source = zipfile.ZipFile(path).read("sources/pxyz.h").decode()
    assert "pxyz_jacobian(" in source and "pxyz_evaluate(" in source


def test_the_command_line_writes_a_neural_ode_fmu(tmp_path):
    model = tmp_path / "ode.json"
    from symnet.importers.json_format import save_json
    save_json(small_ode(), model)
    code, out, err = run_cli("generate", model, "--target", "fmu", "--ode", "3", "--out", tmp_path / "out")
    assert code == 0, err
    path = tmp_path / "out" / "ode.fmu"
    assert out.split() == [str(path)]
    assert validate_fmu(str(path)) == []
    assert fmpy.read_model_description(str(path)).numberOfContinuousStates == 3
