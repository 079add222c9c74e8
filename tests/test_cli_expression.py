"""User expressions as generated code (``symnet generate --expression ... --parameter ...``):
a Burgers residual r = y_t + y*y_x - nu*y_xx of a PINN written as torch code, and a cost
sum((y - t)**2) of a three-output network, each with its value, gradient and Hessian with
respect to the raw inputs checked against torch autograd, central finite differences and
hand formulas, in every target that prints them (C, NumPy, Python, MATLAB in Octave, LaTeX
through pdflatex); determinism; hostile names; one-line errors."""

import subprocess

import numpy as np
import pytest

import symnet
from symnet.importers.json_format import save_json
from symnet.reference.finite_differences import sample_points

from conftest import REPO
from helpers import import_file, require_module, require_tool
from runners import STRICT_C, _run, assert_passed, c_self_check, octave_self_check, python_self_check
from test_cli_options import run_cli
from test_derivative_spec import _square_network

BURGERS = "r = y_t + y*y_x - nu*y_xx"
COST = "cost = sum((y - t)**2)"
TARGETS = ("c", "numpy", "python", "matlab", "latex")
NU = 0.01 / np.pi


def _targets():
    return [argument for target in TARGETS for argument in ("--target", target)]


@pytest.fixture(scope="module", params=["unrolled", "layered"])
def burgers(request, tmp_path_factory):
    """The generated files of the Burgers residual of tests/torch_real_models.py's PINN
    (forward(self, x, t)), read from a state dict by --module, and the module in float64:
    once for each strategy (the LaTeX formula is the unrolled one in both)."""
    torch = require_module("torch")
    import torch_real_models as models
    torch.manual_seed(3)
    module = models.BurgersPINN().double()
    folder = tmp_path_factory.mktemp("burgers")
    torch.save(module.state_dict(), folder / "weights.pt")
    out = folder / "out"
    code, stdout, stderr = run_cli("generate", folder / "weights.pt", "--module",
                                   f"{REPO / 'tests' / 'torch_real_models.py'}:BurgersPINN", *_targets(),
                                   "--expression", BURGERS, "--parameter", "nu:1", "--derivatives", "hessian",
                                   "--name", "burgers", "--strategy", request.param, "--out", out)
    assert code == 0, stdout + stderr
    return out, module


def _points(count=5, seed=4):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-0.9, 0.9, count), rng.uniform(0.05, 0.95, count)])


def _torch_residual(module, X, nu):
    """r, dr/dx and d2r/dx2 at each point by torch autograd (create_graph all the way)."""
    torch = require_module("torch")
    values, gradients, hessians = [], [], []
    for point in X:
        z = torch.tensor(point, dtype=torch.float64, requires_grad=True)

        def residual(z):
            x, t = z[0:1].reshape(1, 1), z[1:2].reshape(1, 1)
            u = module(x, t)[0, 0]
            u_x, u_t = torch.autograd.grad(u, (x, t), create_graph=True)
            u_xx, = torch.autograd.grad(u_x[0, 0], x, create_graph=True)
            return u_t[0, 0] + u * u_x[0, 0] - nu * u_xx[0, 0]
        r = residual(z)
        g, = torch.autograd.grad(r, z, create_graph=True)
        h = torch.stack([torch.autograd.grad(g[k], z, retain_graph=True)[0] for k in range(2)])
        values.append(r.item())
        gradients.append(g.detach().numpy())
        hessians.append(h.detach().numpy())
    return np.array(values), np.array(gradients), np.array(hessians)


def _central(f, X, step=1e-5):
    """Central differences of f (n, 2) -> (n,) + shape along each input: (n,) + shape + (2,)."""
    columns = []
    for k in range(X.shape[1]):
        e = np.zeros(X.shape[1])
        e[k] = step
        columns.append((f(X + e) - f(X - e)) / (2 * step))
    return np.stack(columns, axis=-1)


# --- the Burgers residual of a PINN ----------------------------------------------------------

def test_generated_numpy_matches_torch_autograd_and_finite_differences(burgers):
    out, module = burgers
    generated = import_file(out / "burgers_numpy.py", "gen_burgers_numpy_expression")
    X = _points()
    nu = np.full((len(X), 1), NU)
    value, gradient, hessian = _torch_residual(module, X, NU)
    np.testing.assert_allclose(generated.r_value(X, nu)[:, 0], value, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(generated.r_gradient(X, nu), gradient, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(generated.r_hessian(X, nu), hessian, rtol=1e-10, atol=1e-11)
    by_value = _central(lambda Z: generated.r_value(Z, nu)[:, 0], X)
    np.testing.assert_allclose(generated.r_gradient(X, nu), by_value, rtol=1e-6, atol=1e-7)
    by_gradient = _central(lambda Z: generated.r_gradient(Z, nu), X)
    np.testing.assert_allclose(generated.r_hessian(X, nu), by_gradient, rtol=1e-6, atol=1e-7)


def test_python_api_agrees_with_torch_for_value_gradient_and_hessian(burgers):
    _, module = burgers
    net = symnet.load(module)
    X = _points(seed=8)
    value, gradient, hessian = _torch_residual(module, X, NU)
    for what, expected in (("value", value), ("gradient", gradient), ("hessian", hessian)):
        got = symnet.derive(net, what, expression=BURGERS, parameters={"nu": 1})(X, NU)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-11)


def test_generated_python_matches_torch_and_both_self_checks_pass(burgers):
    out, module = burgers
    generated = import_file(out / "burgers.py", "gen_burgers_python_expression")
    X = _points(seed=5)
    value, gradient, hessian = _torch_residual(module, X, NU)
    for p, x in enumerate(X):
        assert generated.r_value(list(x), [NU])[0] == pytest.approx(value[p], rel=1e-12, abs=1e-13)
        np.testing.assert_allclose(generated.r_gradient(list(x), [NU]), gradient[p], rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(generated.r_hessian(list(x), [NU]), hessian[p], rtol=1e-10, atol=1e-11)
    for script in ("burgers_check.py", "burgers_numpy_check.py"):
        assert_passed(python_self_check(out, script), checks=55)


_DRIVER = r"""#include <stdio.h>
#include "burgers.h"

/* x, t and nu of each point on stdin; r, dr/dx, dr/dt, then the Hessian, on stdout */
int main(void)
{
    double x[2 * 8], nu[8], e[8], de[2 * 8], d2e[4 * 8], one[4];
    size_t n = 0, i, k;
    while (n < 8 && scanf("%lf %lf %lf", &x[2 * n], &x[2 * n + 1], &nu[n]) == 3) {
        ++n;
    }
    burgers_r_value_batch(n, x, nu, e);
    burgers_r_gradient_batch(n, x, nu, de);
    burgers_r_hessian_batch(n, x, nu, d2e);
    for (i = 0; i < n; ++i) {
        burgers_r_hessian(x + 2 * i, nu + i, one);
        printf("%.17g %.17g %.17g", e[i], de[2 * i], de[2 * i + 1]);
        for (k = 0; k < 4; ++k) {
            printf(" %.17g", d2e[4 * i + k]);
        }
        for (k = 0; k < 4; ++k) {
            printf(" %.17g", one[k]);
        }
        printf("\n");
    }
    return 0;
}
"""


def test_generated_c_compiles_strictly_passes_its_self_check_and_matches_torch(burgers):
    out, module = burgers
    gcc = require_tool("gcc")
    assert_passed(c_self_check(out, "burgers"), checks=110)
    (out / "driver.c").write_text(_DRIVER)
    build = _run([gcc, *STRICT_C, "driver.c", "burgers.c", "-lm", "-o", "driver"], out)
    assert build.returncode == 0, build.stderr[-4000:]
    X = _points(seed=6)
    nus = np.array([NU, 0.1, 0.0, 1.0, -0.5])
    lines = "".join(f"{float(x)!r} {float(t)!r} {float(nu)!r}\n" for (x, t), nu in zip(X, nus))
    run = subprocess.run([str(out / "driver")], input=lines, capture_output=True, text=True, timeout=60)
    got = np.array([[float(v) for v in line.split()] for line in run.stdout.splitlines()])
    for p, nu in enumerate(nus):
        value, gradient, hessian = (a[0] for a in _torch_residual(module, X[p:p + 1], nu))
        assert got[p, 0] == pytest.approx(value, rel=1e-12, abs=1e-13)
        np.testing.assert_allclose(got[p, 1:3], gradient, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(got[p, 3:7], hessian.reshape(-1), rtol=1e-10, atol=1e-11)
        np.testing.assert_array_equal(got[p, 7:11], got[p, 3:7])   # one point as in the batch


def test_generated_matlab_passes_its_self_check_and_matches_torch_in_octave(burgers):
    out, module = burgers
    octave = require_tool("octave-cli")
    assert_passed(octave_self_check(out, "burgers"), checks=110)
    X = _points(seed=7)
    matrix = "[" + "; ".join(" ".join(repr(float(v)) for v in column) for column in X.T) + "]"
    code = (f"X = {matrix}; NU = repmat({NU!r}, 1, {len(X)});"
            " fprintf('%.17g\\n', burgers_r_value(X, NU)); fprintf('%.17g\\n', burgers_r_gradient(X, NU));"
            " fprintf('%.17g\\n', burgers_r_hessian(X, NU));")
    run = subprocess.run([octave, "--no-gui", "--norc", "--quiet", "--eval", code], cwd=out,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    numbers = np.array([float(v) for v in run.stdout.split()])
    value, gradient, hessian = _torch_residual(module, X, NU)
    n = len(X)
    np.testing.assert_allclose(numbers[:n], value, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(numbers[n:3 * n].reshape(n, 2), gradient, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(numbers[3 * n:].reshape(n, 2, 2), hessian, rtol=1e-10, atol=1e-11)


def test_latex_states_the_formula_in_the_users_notation_and_compiles(burgers):
    out, _ = burgers
    pdflatex = require_tool("pdflatex")
    equations = (out / "burgers_equations.tex").read_text()
    assert r"\paragraph{Expression $r$.}" in equations
    assert (r"r = - \nu \frac{\partial^{2} y}{\partial x^{2}} + y \frac{\partial y}{\partial x}"
            r" + \frac{\partial y}{\partial t}") in equations
    assert (r"\partial_k r = \partial_k \frac{\partial y}{\partial t} + \frac{\partial y}{\partial x}\, \partial_k y"
            r" + y\, \partial_k \frac{\partial y}{\partial x}"
            r" - \nu\, \partial_k \frac{\partial^{2} y}{\partial x^{2}}") in equations
    run = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "burgers.tex"], cwd=out,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "Undefined control sequence" not in run.stdout


def test_generated_files_state_the_expression_parameters_and_shapes(burgers):
    out, _ = burgers
    header = (out / "burgers.h").read_text()
    assert " * expression r = y_t + y * y_x - nu * y_xx" in header
    assert " *   parameters: nu (1 value); value 1 value, gradient 2 values, hessian 2 x 2 values per point" in header
    assert "void burgers_r_gradient(const double *x, const double *nu, double *de);" in header
    assert "# expression r = y_t + y * y_x - nu * y_xx" in (out / "burgers_numpy.py").read_text()
    assert "function DE = burgers_r_gradient(X, nu)" in (out / "burgers_r_gradient.m").read_text()


# --- a cost of the outputs -------------------------------------------------------------------

@pytest.fixture(scope="module")
def cost_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cost")
    net = _square_network(3)
    save_json(net, folder / "square.json")
    return folder / "square.json", net


def _cost_expected(net, X, t):
    """The hand formulas: 2 (y - t)^T J and 2 J^T J + 2 sum_i (y_i - t_i) H_i."""
    Y, J, H = net.evaluate(X), symnet.derive(net, "jacobian")(X), symnet.derive(net, "hessian")(X)
    gradient = np.einsum("pi,pik->pk", 2 * (Y - t), J)
    hessian = 2 * np.einsum("pik,pim->pkm", J, J) + 2 * np.einsum("pi,pikm->pkm", Y - t, H)
    return ((Y - t) ** 2).sum(axis=1), gradient, hessian


def test_cost_gradient_and_hessian_match_hand_formulas_and_finite_differences(cost_model, tmp_path):
    path, net = cost_model
    code, stdout, stderr = run_cli("generate", path, "--target", "numpy", "--target", "c", "--expression", COST,
                                   "--parameter", "t:3", "--derivatives", "hessian", "--name", "sq", "--out", tmp_path)
    assert code == 0, stdout + stderr
    generated = import_file(tmp_path / "sq_numpy.py", "gen_sq_cost")
    X = sample_points(net, 5, seed=9)
    t = np.tile([0.3, -1.0, 2.0], (len(X), 1))
    value, gradient, hessian = _cost_expected(net, X, t)
    np.testing.assert_allclose(generated.cost_value(X, t)[:, 0], value, rtol=1e-13)
    np.testing.assert_allclose(generated.cost_gradient(X, t), gradient, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(generated.cost_hessian(X, t), hessian, rtol=1e-10, atol=1e-11)
    step = 1e-6 * np.abs(X).max()
    by_value = _central(lambda Z: generated.cost_value(Z, t)[:, 0], X, step)
    np.testing.assert_allclose(generated.cost_gradient(X, t), by_value, rtol=1e-6, atol=1e-6)
    module = (tmp_path / "sq_numpy.py").read_text()
    assert "def hessian(X):" in module and "def jacobian(" not in module   # the network's hessian only
    assert_passed(c_self_check(tmp_path, "sq"))


def test_self_check_references_are_independent_of_the_generated_code(cost_model):
    """The 30-digit self-check vectors of an expression agree with the NumPy path of symnet.derive."""
    from symnet.api import user_expressions
    from symnet.emit.selfcheck import check_arguments, check_vectors
    from symnet.emit import GenerationRequest
    _, net = cost_model
    names = user_expressions(net, [COST], {"t": 3}, hessian=True)
    vectors = check_vectors(GenerationRequest(net, "sq", (), (), derivatives=names))
    t = check_arguments(net, vectors.point_count, parameters=(("t", 3),))["t"]
    for block, what in zip(vectors.blocks, ("value", "gradient", "hessian")):
        expected = symnet.derive(net, what, expression=COST, parameters={"t": 3})(vectors.points, t)
        np.testing.assert_allclose(block.expected.reshape(expected.shape), expected, rtol=1e-12, atol=1e-13)
        assert block.arguments[0][0] == "t"


def test_generation_is_byte_identical_twice(cost_model, tmp_path):
    path, _ = cost_model
    for folder in ("a", "b"):
        code, stdout, stderr = run_cli("generate", path, *_targets(), "--expression", COST,
                                       "--expression", "s = sin(y1_x) * y2 + 2", "--parameter", "t:3",
                                       "--name", "sq", "--out", tmp_path / folder)
        assert code == 0, stdout + stderr
    first = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert first == sorted(p.name for p in (tmp_path / "b").iterdir()) and "sq_s_gradient.m" in first
    for name in first:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# --- names and errors ------------------------------------------------------------------------

def _error(*args):
    code, stdout, stderr = run_cli(*args)
    assert code != 0 and "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symnet: error: "), stderr
    return lines[0]


@pytest.mark.parametrize("parameter", ["int:1", "x:1", "np:1", "math:1", "result:1", "nu1:1", "y:1", "sin:1",
                                       "e:1", "N_INPUTS:1", "_t:1", "while:1", "restrict:1", "end:1"])
def test_hostile_parameter_names_are_refused(cost_model, tmp_path, parameter):
    path, _ = cost_model
    name = parameter.split(":")[0]
    line = _error("generate", path, "--target", "c", "--expression", f"c = sum(y) * {name}",
                  "--parameter", parameter, "--out", tmp_path)
    assert repr(name) in line


def test_parameters_differing_only_in_case_are_refused(cost_model, tmp_path):
    path, _ = cost_model
    line = _error("generate", path, "--target", "numpy", "--expression", "c = sum(y) * t + T",
                  "--parameter", "t:1", "--parameter", "T:1", "--out", tmp_path)
    assert "given twice" in line


def test_hostile_expression_names_become_safe_identifiers(cost_model, tmp_path):
    path, net = cost_model
    code, stdout, stderr = run_cli("generate", path, "--target", "c", "--target", "python", "--expression",
                                   "while = y1 * y2", "--name", "sq", "--out", tmp_path)
    assert code == 0, stdout + stderr
    generated = import_file(tmp_path / "sq.py", "gen_sq_while")
    x = sample_points(net, 1, seed=2)[0]
    y = net.evaluate(x[None])[0]
    assert generated.while_net_value(list(x))[0] == pytest.approx(y[0] * y[1], rel=1e-13)
    assert_passed(c_self_check(tmp_path, "sq"))


@pytest.mark.parametrize("arguments, problem", [
    (["--expression", "c = sum(y * q)", "--parameter", "q:3"], "parameter 'q'"),
    (["--expression", "c = z + 1"], "unknown name 'z'"),
    (["--expression", "c = sum(y - t)", "--parameter", "t:2"], "vectors of 3 and 2 values"),
    (["--expression", "c = sum(y - t)", "--parameter", "t"], "expected NAME:SIZE"),
    (["--expression", "c = sum(y - t)", "--parameter", "t:0"], "expected NAME:SIZE"),
    (["--expression", "c = sum(y - t)", "--parameter", "t:x"], "expected NAME:SIZE"),
    (["--parameter", "t:3"], "parameters belong to an --expression"),
    (["--expression", "c = sum(y)", "--parameter", "t:3"], "no expression reads it"),
    (["--expression", "c = y1", "--expression", "c = y2"], "a second expression named 'c'"),
    (["--expression", "c = __import__('os')"], "is not allowed"),
    (["--expression", "c = y1 */ 2"], "not a formula"),
    (["--expression", "c = y1_xxxy", "--strategy", "layered"], "needs derivatives of the outputs of order 5"),
    (["--expression", "c = y1", "--target", "casadi"], "the casadi target does not print c_value"),
])
def test_errors_are_one_line(cost_model, tmp_path, arguments, problem):
    path, _ = cost_model
    targets = [] if "--target" in arguments else ["--target", "c"]
    line = _error("generate", path, *targets, *arguments, "--out", tmp_path)
    assert problem in line, line


def test_layered_refusal_names_the_order_needed(cost_model, tmp_path):
    path, _ = cost_model
    line = _error("generate", path, "--target", "c", "--expression", "r = y1_xxtt + y1*y1_x - nu*y1_xx",
                  "--parameter", "nu:1", "--strategy", "layered", "--out", tmp_path)
    assert "r_gradient needs derivatives of the outputs of order 5" in line and "up to order 4" in line


def test_second_partials_of_a_piecewise_linear_network_are_refused(tmp_path):
    from symnet.ir.network import Input, Layer, Network, Output
    rng = np.random.default_rng(2)
    net = Network([Input("x", 2)], [Layer(4, "poslin", rng.normal(size=4), [(0, rng.normal(size=(4, 2)))]),
                                    Layer(1, "purelin", rng.normal(size=1), [], [(0, rng.normal(size=(1, 4)))])],
                  [Output("y", 1)], name="relu")
    save_json(net, tmp_path / "relu.json")
    line = _error("generate", tmp_path / "relu.json", "--target", "c", "--expression", "r = y_x1x1 + y",
                  "--out", tmp_path / "out")
    assert "order 2" in line and "poslin" in line
    code, stdout, stderr = run_cli("generate", tmp_path / "relu.json", "--target", "numpy", "--expression",
                                   "r = y_x1 * y", "--name", "relu", "--out", tmp_path / "ok")
    assert code == 0, stdout + stderr


def test_the_command_line_help_names_the_options():
    code, stdout, _ = run_cli("generate", "--help")
    assert code == 0 and "--expression TEXT" in stdout and "--parameter NAME:SIZE" in stdout


def test_swish_pinn_with_several_outputs_passes_its_self_check_and_finite_differences(tmp_path):
    """A Navier-Stokes PINN (SiLU, outputs y1..y3 of x, y, t): the momentum residual's Hessian
    reads fourth derivatives of swish, whose safe form's impulses at n = 0 are dropped."""
    torch = require_module("torch")
    import torch_real_models as models
    torch.manual_seed(0)
    net = symnet.load(models.NavierStokesPINN().double())
    # the Hessian reads fourth derivatives: an unrolled form of about 550,000 operations, built anyway
    symnet.generate(net, ["numpy"], tmp_path / "h", name="ns", derivatives=["hessian"], parameters={"la": 1, "lb": 1},
                    allow_large_unrolled=True, expressions=["mom = y1_t + la*(y1*y1_x + y2*y1_y) + y3_x - lb*(y1_xx + y1_yy)"])
    assert_passed(python_self_check(tmp_path / "h", "ns_numpy_check.py"))
    generated = import_file(tmp_path / "h" / "ns_numpy.py", "gen_ns_swish")
    X = sample_points(net, 4, seed=3)
    la, lb = np.full((4, 1), 1.0), np.full((4, 1), 0.01)
    by_value = _central(lambda Z: generated.mom_value(Z, la, lb)[:, 0], X)
    np.testing.assert_allclose(generated.mom_gradient(X, la, lb), by_value, rtol=1e-6, atol=1e-7)
    by_gradient = _central(lambda Z: generated.mom_gradient(Z, la, lb), X)
    np.testing.assert_allclose(generated.mom_hessian(X, la, lb), by_gradient, rtol=1e-6, atol=1e-7)
