"""User expressions in the layered form (``--strategy layered``, symnet.layered.expression):
the Burgers residual r = y_t + y*y_x - nu*y_xx of a ``forward(self, x, t)`` torch PINN with
its value, gradient and Hessian against the unrolled form (tests/test_cli_expression.py checks
every target's files of it against torch autograd and central differences, for both
strategies); a cost with a vector parameter against the unrolled form;
expressions reading third partials; determinism; the strategy ``auto`` picks; refusals."""

import subprocess
import sys

import numpy as np
import pytest

import symnet
from symnet.reference.finite_differences import sample_points

from conftest import REPO
from helpers import import_file, require_module
from test_cli_expression import BURGERS, COST, NU, _error, _points
from test_cli_options import run_cli
from test_derivative_spec import _square_network, _wide_network

TARGETS = ("c", "numpy", "python", "matlab")


def _generate(source, out, *arguments, strategy="layered"):
    targets = [argument for target in TARGETS for argument in ("--target", target)]
    code, stdout, stderr = run_cli("generate", source, *targets, *arguments, "--strategy", strategy, "--out", out)
    assert code == 0, stdout + stderr


@pytest.fixture(scope="module")
def burgers(tmp_path_factory):
    """The layered and the unrolled files of the Burgers residual of tests/torch_real_models.py's
    PINN (read from a state dict by --module), and the module in float64."""
    torch = require_module("torch")
    import torch_real_models as models
    torch.manual_seed(3)
    module = models.BurgersPINN().double()
    folder = tmp_path_factory.mktemp("layered_burgers")
    torch.save(module.state_dict(), folder / "weights.pt")
    arguments = ("--module", f"{REPO / 'tests' / 'torch_real_models.py'}:BurgersPINN", "--expression", BURGERS,
                 "--parameter", "nu:1", "--derivatives", "hessian", "--name", "burgers")
    _generate(folder / "weights.pt", folder / "out", *arguments)
    _generate(folder / "weights.pt", folder / "unrolled", *arguments, strategy="unrolled")
    return folder / "out", module, folder


def test_the_files_hold_the_layered_form(burgers):
    out, _, _ = burgers
    numpy_text = (out / "burgers_numpy.py").read_text()
    assert "Layered form" in numpy_text and "jet_1_1" in numpy_text   # y_xx from the jets
    assert "def r_gradient(X, NU):" in numpy_text
    assert "void burgers_r_gradient(const double *x, const double *nu, double *de);" in (out / "burgers.h").read_text()
    assert "function DE = burgers_r_gradient(X, nu)" in (out / "burgers_r_gradient.m").read_text()


def test_numpy_agrees_with_the_unrolled_form(burgers):
    """Against torch autograd and central differences the layered files are checked with the
    unrolled ones in tests/test_cli_expression.py; here the two forms against each other."""
    out, _, folder = burgers
    generated = import_file(out / "burgers_numpy.py", "gen_layered_burgers_numpy")
    unrolled = import_file(folder / "unrolled" / "burgers_numpy.py", "gen_unrolled_burgers_numpy")
    X = _points(seed=11)
    nu = np.full((len(X), 1), NU)
    for what in ("r_value", "r_gradient", "r_hessian"):
        np.testing.assert_allclose(getattr(generated, what)(X, nu), getattr(unrolled, what)(X, nu), rtol=1e-12,
                                   atol=1e-13, err_msg=what)


def _both(net, tmp_path, expressions, parameters, derivatives=("hessian",)):
    """The layered and the unrolled NumPy modules of ``expressions`` (with Hessians where
    ``derivatives`` name them)."""
    modules = []
    for strategy in ("layered", "unrolled"):
        symnet.generate(net, ["numpy"], tmp_path / strategy, derivatives=list(derivatives), name="m", strategy=strategy,
                        expressions=expressions, parameters=parameters)
        modules.append(import_file(tmp_path / strategy / "m_numpy.py", f"gen_both_{strategy}_{tmp_path.name}"))
        run = subprocess.run([sys.executable, "m_numpy_check.py"], cwd=tmp_path / strategy, capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0 and "all" in run.stdout, run.stdout + run.stderr
    assert "Layered form" in (tmp_path / "layered" / "m_numpy.py").read_text()
    return modules


def test_a_cost_with_a_vector_parameter_agrees_with_the_unrolled_form_and_hand_formulas(tmp_path):
    from test_cli_expression import _cost_expected
    net = _square_network(3)
    layered, unrolled = _both(net, tmp_path, [COST], {"t": 3})
    X = sample_points(net, 4, seed=2)
    t = np.tile([0.3, -1.0, 2.0], (len(X), 1))
    expected = _cost_expected(net, X, t)
    for what, reference in zip(("cost_value", "cost_gradient", "cost_hessian"), expected):
        got = getattr(layered, what)(X, t)
        np.testing.assert_allclose(got.reshape(reference.shape), reference, rtol=1e-10, atol=1e-11, err_msg=what)
        np.testing.assert_allclose(got, getattr(unrolled, what)(X, t), rtol=1e-11, atol=1e-12, err_msg=what)


def test_an_expression_of_third_partials_agrees_with_the_unrolled_form(tmp_path):
    """The gradient of an expression reading a third partial needs partials of order 4, by jets."""
    net = _square_network(3)
    expression = "s = sin(y1_xy) * y2 + y3_ttx * y1 - exp(y2_x)"
    layered, unrolled = _both(net, tmp_path, [expression], {}, derivatives=())
    X = sample_points(net, 4, seed=5)
    for what in ("s_value", "s_gradient"):
        np.testing.assert_allclose(getattr(layered, what)(X), getattr(unrolled, what)(X), rtol=1e-10, atol=1e-11,
                                   err_msg=what)


def test_generation_is_byte_identical_twice(tmp_path):
    net = _square_network(3)
    for folder in ("a", "b"):
        symnet.generate(net, list(TARGETS), tmp_path / folder, derivatives=["hessian"], name="sq",
                        strategy="layered", expressions=[COST, "s = y1_xy * y2 + y3_x"], parameters={"t": 3})
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir()) and "sq_s_hessian.m" in names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_auto_picks_the_layered_form_for_a_large_network_and_the_unrolled_one_for_a_small(tmp_path):
    wide = _wide_network()
    symnet.generate(wide, ["numpy"], tmp_path / "wide", name="w", expressions=["r = y1_x1 + y1*y1_x2x2"])
    assert "Layered form" in (tmp_path / "wide" / "w_numpy.py").read_text()
    from symnet.ir.network import Input, Layer, Network, Output
    rng = np.random.default_rng(4)
    small = Network([Input("x", 2)], [Layer(3, "tansig", rng.normal(size=3), [(0, rng.normal(size=(3, 2)))]),
                                      Layer(1, "purelin", rng.normal(size=1), [], [(0, rng.normal(size=(1, 3)))])],
                    [Output("y", 1)], name="small")
    symnet.generate(small, ["numpy"], tmp_path / "small", name="s", expressions=["r = y_x1 + y*y_x2x2"])
    assert "Layered form" not in (tmp_path / "small" / "s_numpy.py").read_text()


def test_an_order_beyond_the_jets_is_refused_in_one_line_and_auto_goes_unrolled(tmp_path):
    net = _square_network(3)
    from symnet.importers.json_format import save_json
    save_json(net, tmp_path / "sq.json")
    line = _error("generate", tmp_path / "sq.json", "--target", "c", "--expression", "r = y1_xxyt",
                  "--derivatives", "hessian", "--strategy", "layered", "--out", tmp_path / "no")
    assert "r_gradient needs derivatives of the outputs of order 5" in line
    symnet.generate(net, ["numpy"], tmp_path / "auto", name="a", expressions=["r = y1_xxyt"], strategy="auto",
                    allow_large_unrolled=True)   # estimated over the limit (an overestimate), built in seconds
    assert "Layered form" not in (tmp_path / "auto" / "a_numpy.py").read_text()
