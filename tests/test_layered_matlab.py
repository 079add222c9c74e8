"""The layered MATLAB/Octave form, run in GNU Octave (one process for every case):
against the direct numeric evaluation and the symbolic closed form, against
central finite differences of Octave's own results, against the unrolled MATLAB
functions and the layered NumPy module; its self-check in Octave; hostile names;
determinism and the strategy choice."""

from dataclasses import dataclass

import numpy as np
import pytest

import symnet
from symnet import Input, Layer, MapMinMax, Network, Output
from symnet.ir import transfer
from symnet.reference.finite_differences import compare
from symnet.cli import main
from symnet.emit.common import safe_identifier
from symnet.emit.common import FUNCTION_NAMES
from symnet.importers.json_format import save_json
from symnet.layered.network import LAYERED_WHOLE_LAYER, layered_network

from helpers import closed_form, ALL_TRANSFERS, SMOOTH_TRANSFERS, import_file, points_for, random_network, require_tool
from octave_runner import FiniteDifferencePlan, OctaveJob, run_octave
from test_hostile_names import assert_nothing_injected, hostile_network
from test_layered import assert_close, mlp

MISH = (("expression", "n*tanh(log(exp(n) + 1))"),)
#: every element-wise transfer function of the registry, some with parameters
#: (functions of the whole layer, softmax and rms_norm, have their own layers below)
EVERY_TRANSFER = tuple((name, ()) for name in sorted(transfer.REGISTRY)
                       if transfer.REGISTRY[name].elementwise and name != "expression") + (
    ("expression", MISH), ("elu", (("alpha", 1.3),)), ("leaky_relu", (("alpha", 0.2),)),
    ("softplus", (("beta", 2.0), ("threshold", 3.0))), ("clip", (("min", -0.5), ("max", 2.0))))
#: whole-layer transfer functions the layered strategy refuses by name (none today)
WITHOUT_LAYERED_FORM = ()
#: transfer functions with a continuous second derivative (finite differences of the Hessian apply)
SMOOTH = frozenset(SMOOTH_TRANSFERS + ("softmax", "rms_norm", "gelu", "gelu_tanh", "expression")) - {"elu"}
RANDOM_SEEDS = range(8)
POINTS = 4


def zoo(forward):
    """Three inputs; one two-unit layer per transfer function reading them; a softmax and an
    rms_norm layer reading all of those; a linear layer reading both and the inputs (a cascade link).
    ``forward``: every hidden layer is an output too (more outputs than inputs, forward
    accumulation); else the linear layer's two outputs alone (reverse accumulation)."""
    rng = np.random.default_rng(7)
    n_in = 3
    layers = [Layer(2, name, rng.normal(size=2), [(0, rng.normal(scale=1.5, size=(2, n_in)))], transfer_params=params)
              for name, params in EVERY_TRANSFER]
    hidden = len(layers)
    layers.append(Layer(3, "softmax", rng.normal(size=3),
                        layer_weights=[(k, rng.normal(size=(3, 2))) for k in range(hidden)]))
    layers.append(Layer(3, "rms_norm", rng.normal(size=3), transfer_params=(("eps", 0.05),),
                        layer_weights=[(k, rng.normal(size=(3, 2))) for k in range(hidden)]))
    layers.append(Layer(2, "purelin", rng.normal(size=2), [(0, rng.normal(size=(2, n_in)))],
                        layer_weights=[(hidden, rng.normal(size=(2, 3))), (hidden + 1, rng.normal(size=(2, 3)))]))
    outputs = [Output("y", hidden + 2, [MapMinMax(rng.uniform(-2, 2, 2), rng.uniform(0.5, 2, 2), -1.0)])]
    if forward:
        outputs += [Output(f"h{k}", k) for k in range(hidden)]
    inputs = [Input("x", n_in, [MapMinMax(rng.uniform(-5, 5, n_in), rng.uniform(0.2, 3, n_in), -1.0)])]
    return Network(inputs, layers, outputs, name="zoo_forward" if forward else "zoo_reverse")


def linear(n_in, n_out):
    """Linear layers only: a constant Jacobian (a constant tangent or adjoint) and a zero Hessian."""
    rng = np.random.default_rng(n_in)
    layers = [Layer(3, "purelin", rng.normal(size=3), [(0, rng.normal(size=(3, n_in)))]),
              Layer(n_out, "purelin", rng.normal(size=n_out), layer_weights=[(0, rng.normal(size=(n_out, 3)))])]
    return Network([Input("x", n_in, [MapMinMax(rng.uniform(-1, 1, n_in), np.full(n_in, 0.5), -1.0)])], layers,
                   [Output("y", 1, [MapMinMax(rng.uniform(-1, 1, n_out), np.full(n_out, 2.0), -1.0)])],
                   name=f"linear_{n_in}_{n_out}")


@dataclass
class Case:
    key: str
    net: Network
    unrolled: bool = True       # also run the unrolled MATLAB functions
    reference: Network = None   # the same numbers under plain names (hostile names)
    symbolic_hessian: bool = True   # also against the symbolic Hessian (slow for many outputs)

    @property
    def derivatives(self):
        return ("value",) + (("gradient",) if self.net.n_outputs == 1 else ()) + ("jacobian", "hessian")

    @property
    def smooth(self):
        return all(layer.transfer in SMOOTH for layer in self.net.layers)

    @property
    def name(self):
        return safe_identifier(self.net.name) if self.reference is not None else f"lay_{self.key}"


CASES = {case.key: case for case in (
    [Case(f"random{seed}", random_network(seed, transfers=ALL_TRANSFERS)) for seed in RANDOM_SEEDS]
    # The Hessian is forward over reverse in both modes: zoo_reverse checks every curvature symbolically.
    + [Case("zoo_forward", zoo(True), unrolled=False, symbolic_hessian=False),
       Case("zoo_reverse", zoo(False), unrolled=False),
       Case("mlp_forward", mlp((2, 6, 5, 4))), Case("mlp_reverse", mlp((5, 6, 5, 1)), unrolled=False),
       Case("linear_forward", linear(1, 2)), Case("linear_reverse", linear(3, 1)),
       Case("hostile", hostile_network(), unrolled=False, reference=hostile_network(plain=True))])}


def from_octave(columns, shape):
    """(points,) + shape from Octave's column-major blocks, one row per point."""
    return columns.reshape((len(columns),) + shape[::-1]).transpose((0,) + tuple(range(len(shape), 0, -1)))


def calls(name, derivatives):
    return "\n".join(f"y{k} = reshape({name}_{FUNCTION_NAMES[what]}(x1), [], size(x1, 2));"
                     for k, what in enumerate(derivatives, start=1))


class Run:
    """One case: its generated files, the Octave jobs, and what came back."""

    def __init__(self, case, folder):
        self.case, self.net = case, case.net
        self.X = points_for(self.net, count=POINTS, seed=3)
        self.plan = FiniteDifferencePlan(self.X, 1e-4 * np.where(np.ptp(self.net.input_range(), axis=1) > 0,
                                                                  np.ptp(self.net.input_range(), axis=1), 1.0))
        derivatives = case.derivatives
        self.paths = symnet.generate(self.net, ["matlab"], folder / "layered", derivatives=derivatives,
                                     name=None if case.reference is not None else case.name, strategy="layered")
        symnet.generate(self.net, ["numpy"], folder / "numpy", derivatives=derivatives, name="lay",
                        strategy="layered")
        self.numpy = import_file(folder / "numpy" / "lay_numpy.py", f"lay_numpy_{case.key}")
        self.jobs = [OctaveJob(folder / "layered", [self.plan.points], calls(case.name, derivatives), len(derivatives)),
                     OctaveJob(folder / "layered", [self.X[:1]],
                               f"report = evalc('{case.name}_check');\n"
                               "y1 = double(~isempty(strfind(report, 'checks passed')));", 1)]
        if case.unrolled:
            symnet.generate(self.net, ["matlab"], folder / "unrolled", derivatives=derivatives,
                            name=f"unr_{case.key}", strategy="unrolled")
            self.jobs.append(OctaveJob(folder / "unrolled", [self.X], calls(f"unr_{case.key}", derivatives),
                                       len(derivatives)))

    def take(self, results):
        """Octave's results: self.layered (at X), self.fd_jacobian, self.fd_hessian, self.unrolled
        (or the error text of the job that failed), self.checked."""
        self.checked = results[1] if isinstance(results[1], str) else float(results[1][0][0, 0])
        self.unrolled = results[2] if self.case.unrolled else None
        if not isinstance(self.unrolled, (str, type(None))):
            self.unrolled = {what: from_octave(columns, self.shape(what))
                             for what, columns in zip(self.case.derivatives, self.unrolled)}
        self.layered = results[0]
        if isinstance(self.layered, str):
            return
        layered = dict(zip(self.case.derivatives, results[0]))
        _, self.fd_jacobian = self.plan.split(layered["value"])
        _, fd = self.plan.split(layered["jacobian"])   # entries of J in Octave's (column-major) order
        n_in, n_out = self.net.n_inputs, self.net.n_outputs
        self.fd_hessian = fd.reshape(POINTS, n_in, n_out, n_in).transpose(0, 2, 1, 3)
        self.layered = {what: from_octave(self.plan.split(columns)[0], self.shape(what))
                        for what, columns in layered.items()}

    def results(self):
        """This run, failing the test when Octave could not compute the layered results."""
        if isinstance(self.layered, str):
            pytest.fail(f"Octave failed on the layered functions of {self.case.key}: {self.layered}")
        return self

    def shape(self, what):
        n_in, n_out = self.net.n_inputs, self.net.n_outputs
        return {"value": (n_out,), "gradient": (n_in,), "jacobian": (n_out, n_in),
                "hessian": (n_out, n_in, n_in)}[what]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    octave = require_tool("octave-cli")
    root = tmp_path_factory.mktemp("layered_matlab")
    prepared = {key: Run(case, root / key) for key, case in CASES.items()}
    jobs = [job for run in prepared.values() for job in run.jobs]
    results = iter(run_octave(octave, jobs, root, timeout=600))
    for run in prepared.values():
        run.take([next(results) for _ in run.jobs])
    return prepared


@pytest.mark.parametrize("key", list(CASES))
def test_layered_matlab_matches_the_numeric_and_symbolic_references(key, runs):
    run = runs[key].results()
    reference = run.case.reference or run.net
    assert_close(run.layered["value"], reference.evaluate(run.X))
    for what in run.case.derivatives:
        if what != "hessian" or run.case.symbolic_hessian:
            assert_close(run.layered[what], closed_form(reference, what)(run.X))


@pytest.mark.parametrize("key", list(CASES))
def test_layered_matlab_matches_the_layered_numpy_module_and_the_unrolled_matlab(key, runs):
    run = runs[key].results()
    for what in run.case.derivatives:
        assert_close(run.layered[what], getattr(run.numpy, FUNCTION_NAMES[what])(run.X))
        if run.case.unrolled:
            assert not isinstance(run.unrolled, str), run.unrolled
            assert_close(run.layered[what], run.unrolled[what])


@pytest.mark.parametrize("key", list(CASES))
def test_layered_matlab_matches_finite_differences_of_its_own_results(key, runs):
    run = runs[key].results()
    assert compare(run.layered["jacobian"], run.fd_jacobian).max_rel_error < 1e-6
    if run.case.smooth:
        assert compare(run.layered["hessian"], run.fd_hessian).max_rel_error < 1e-6
    if "gradient" in run.case.derivatives:
        np.testing.assert_array_equal(run.layered["gradient"], run.layered["jacobian"][:, 0, :])


@pytest.mark.parametrize("key", list(CASES))
def test_the_self_check_passes_in_octave(key, runs):
    assert runs[key].checked == 1.0, runs[key].checked


def test_hostile_names_reach_no_code(runs):
    run = runs["hostile"]
    assert_nothing_injected("matlab", run.paths, safe_identifier(run.net.name))


def test_cases_cover_every_transfer_function_both_modes_cascades_and_removed_rows():
    nets = [case.net for case in CASES.values()]
    folded = [layered_network(net) for net in nets]
    assert {f.jacobian_mode for f in folded} == {"forward", "reverse"}
    assert {layer.transfer for net in nets for layer in net.layers} >= set(transfer.REGISTRY) - set(WITHOUT_LAYERED_FORM)
    assert set(WITHOUT_LAYERED_FORM) == {name for name, entry in transfer.REGISTRY.items()
                                         if not entry.elementwise and name not in LAYERED_WHOLE_LAYER}
    assert any(f.constant_rows for f in folded)
    assert any(len(net.outputs) > 1 for net in nets) and any(len(net.inputs) > 1 for net in nets)
    assert any(len(layer.input_weights) and index > 0 for net in nets for index, layer in enumerate(net.layers))
    assert any(case.smooth for case in CASES.values()) and not all(case.smooth for case in CASES.values())


def test_generation_is_byte_identical(tmp_path):
    net = zoo(False)
    for folder in ("a", "b"):
        symnet.generate(net, ["matlab"], tmp_path / folder, derivatives=("value", "jacobian", "hessian"),
                        name="zoo", strategy="layered")
    first, second = ({p.name: p.read_bytes() for p in sorted((tmp_path / f).iterdir())} for f in ("a", "b"))
    assert first == second and len(first) == 4


def test_the_strategy_reaches_the_matlab_target(tmp_path):
    small, big = mlp((3, 4, 2)), mlp((4, 16, 16, 2))
    symnet.generate(small, ["matlab"], tmp_path / "small", name="m")
    symnet.generate(big, ["matlab"], tmp_path / "big", name="m")
    assert "persistent" not in (tmp_path / "small" / "m_jacobian.m").read_text()
    text = (tmp_path / "big" / "m_jacobian.m").read_text()
    assert "Layered form" in text and "persistent X_OFFSET W1_x" in text and "W2_1 * a1" in text
    model = tmp_path / "small.json"
    save_json(small, model)
    assert main(["generate", str(model), "--target", "matlab", "--strategy", "layered",
                 "--out", str(tmp_path / "cli"), "--name", "m"]) == 0
    assert "in reverse" in (tmp_path / "cli" / "m_jacobian.m").read_text()
