"""The casadi target: the external library built strict, loaded by casadi.external,
differentiated by CasADi's own AD (Jacobian, Hessian, forward and reverse directional
derivatives) against symnet's NumPy code, and an NLP solved by IPOPT with the exact
Hessian through the external against the same network written natively in CasADi SX."""

from pathlib import Path

import numpy as np
import pytest

import symnet
from symnet import Input, Layer, Network, Output

from helpers import require_module, require_tool
from runners import STRICT_C, _run

casadi = require_module("casadi")

STRATEGIES = ("unrolled", "layered")


def mlp():
    """Two inputs, a tanh layer of six, two outputs: the objective and the constraint."""
    rng = np.random.default_rng(11)
    w1, b1 = rng.normal(size=(6, 2)), rng.normal(size=6)
    w2, b2 = rng.normal(size=(2, 6)) * 0.7, rng.normal(size=2)
    return mlp_from(w1, b1, w2, b2), (w1, b1, w2, b2)


def mlp_from(w1, b1, w2, b2):
    layers = [Layer(len(b1), "tansig", b1, [(0, w1)]), Layer(len(b2), "purelin", b2, layer_weights=[(0, w2)])]
    return Network([Input("x", w1.shape[1])], layers, [Output("y", 1)], name="mlp")


def native(x, weights):
    """The same network as a CasADi expression of x, from the same weights."""
    w1, b1, w2, b2 = weights
    return casadi.mtimes(casadi.DM(w2), casadi.tanh(casadi.mtimes(casadi.DM(w1), x) + casadi.DM(b1))) + casadi.DM(b2)


def external(net, folder, strategy, derivatives=("value", "jacobian", "hessian")):
    paths = symnet.generate(net, ["casadi"], folder, derivatives=derivatives, strategy=strategy)
    assert {p.name for p in paths} == {"mlp_external.c", "mlp_casadi.c", "mlp_casadi.h", "mlp_casadi_check.c"}
    return external_from(folder, "mlp")


def points():
    return np.random.default_rng(3).uniform(-2, 2, size=(5, 2))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_casadi_ad_through_the_external_matches_symnet(strategy, tmp_path):
    net, _ = mlp()
    f = external(net, tmp_path, strategy)
    for derivative, name in ((f.jacobian(), "jac_mlp"), (f.forward(1), "fwd1_mlp"), (f.reverse(1), "adj1_mlp"),
                             (f.jacobian().jacobian(), "jac_jac_mlp")):
        assert (derivative.name(), derivative.class_name()) == (name, "External")
    x, seed_in, seed_out = casadi.MX.sym("x", 2), casadi.MX.sym("v", 2), casadi.MX.sym("w", 2)
    y = f(x)
    ad = casadi.Function("ad", [x, seed_in, seed_out], [
        y, casadi.jacobian(y, x), casadi.hessian(y[0], x)[0], casadi.hessian(y[1], x)[0],
        casadi.jtimes(y, x, seed_in), casadi.jtimes(y, x, seed_out, True)])
    X = points()
    value, jacobian, hessian = (symnet.derive(net, what)(X) for what in ("value", "jacobian", "hessian"))
    rng = np.random.default_rng(0)
    for k, point in enumerate(X):
        v, w = rng.normal(size=2), rng.normal(size=2)
        got = [np.array(r) for r in ad(point, v, w)]
        np.testing.assert_allclose(got[0].ravel(), value[k], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[1], jacobian[k], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[2], hessian[k][0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[3], hessian[k][1], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[4].ravel(), jacobian[k] @ v, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[5].ravel(), jacobian[k].T @ w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_external_in_an_nlp_matches_the_network_written_in_casadi(strategy, tmp_path):
    """min y0(x) + |x|^2/10 subject to y1(x) <= 0, -2 <= x <= 2, IPOPT with the exact Hessian:
    the external reaches the SX network's optimum in no more iterations."""
    net, weights = mlp()
    f = external(net, tmp_path, strategy)
    x = casadi.MX.sym("x", 2)
    xs = casadi.SX.sym("x", 2)
    runs = {}
    for label, (sym, y) in {"external": (x, f(x)), "native": (xs, native(xs, weights))}.items():
        nlp = {"x": sym, "f": y[0] + casadi.sumsqr(sym) / 10, "g": y[1]}
        solver = casadi.nlpsol("solver", "ipopt", nlp, {"ipopt.print_level": 0, "print_time": False,
                                                        "ipopt.hessian_approximation": "exact"})
        solution = solver(x0=[0.5, -0.5], lbx=-2, ubx=2, lbg=-np.inf, ubg=0)
        assert solver.stats()["success"], (label, solver.stats()["return_status"])
        runs[label] = (np.array(solution["x"]).ravel(), float(solution["f"]), solver.stats()["iter_count"])
    np.testing.assert_allclose(runs["external"][0], runs["native"][0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(runs["external"][1], runs["native"][1], rtol=1e-12, atol=1e-12)
    assert runs["external"][2] <= runs["native"][2], runs


def test_a_single_output_external_takes_its_jacobian_from_the_gradient(tmp_path):
    """--derivatives value,gradient: jac_NAME is served by the gradient; no Hessian functions."""
    _, (w1, b1, w2, b2) = mlp()
    single = mlp_from(w1, b1, w2[:1], b2[:1])
    f = external(single, tmp_path, "unrolled", ("value", "gradient"))
    assert f.jacobian().class_name() == "External"
    with pytest.raises(RuntimeError, match="Derivatives cannot be calculated for jac_mlp"):
        f.jacobian().jacobian()
    X = points()
    gradient = symnet.derive(single, "gradient")(X)
    for k, point in enumerate(X):
        np.testing.assert_allclose(np.array(f.jacobian()(point, 0)).ravel(), gradient[k], rtol=1e-12, atol=1e-15)


def test_the_casadi_target_needs_the_value(tmp_path):
    from symnet.errors import UnsupportedError
    net, _ = mlp()
    with pytest.raises(UnsupportedError, match="casadi target needs the value"):
        symnet.generate(net, ["casadi"], tmp_path, derivatives=["jacobian"])


#: a driver that calls every function of the external with buffers of exactly the sizes its
#: patterns and _work give (heap, so that AddressSanitizer sees one entry past the end), once
#: with every input given and once with the seeds and nominal outputs NULL
SANITIZED_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
typedef double casadi_real;
typedef long long int casadi_int;
typedef int (*eval_t)(const casadi_real **, casadi_real **, casadi_int *, casadi_real *, int);
typedef const casadi_int *(*pattern_t)(casadi_int);
typedef int (*work_t)(casadi_int *, casadi_int *, casadi_int *, casadi_int *);
%(declarations)s
static casadi_int nnz(const casadi_int *p) { return p[2 + p[1]]; }

static double run(eval_t f, pattern_t in, pattern_t out, work_t work, int all_inputs)
{
    casadi_int n_arg, n_res, n_iw, n_w, i, k;
    const casadi_real *arg[8];
    casadi_real *res[8], *w, total = 0.0;
    work(&n_arg, &n_res, &n_iw, &n_w);
    for (i = 0; i < n_arg; ++i) {
        casadi_real *a = (all_inputs || i == 0) ? malloc(sizeof(casadi_real) * nnz(in(i))) : NULL;
        for (k = 0; a && k < nnz(in(i)); ++k) a[k] = 0.25 * (double)(k + 1) - 0.5 * (double)i;
        arg[i] = a;
    }
    for (i = 0; i < n_res; ++i) res[i] = nnz(out(i)) ? malloc(sizeof(casadi_real) * nnz(out(i))) : NULL;
    w = malloc(sizeof(casadi_real) * (n_w ? n_w : 1));
    if (f(arg, res, NULL, w, 0) != 0) exit(2);
    for (i = 0; i < n_res; ++i) {
        for (k = 0; res[i] && k < nnz(out(i)); ++k) total += res[i][k];
        free(res[i]);
    }
    for (i = 0; i < n_arg; ++i) free((void *)arg[i]);
    free(w);
    return total;
}

int main(void)
{
%(calls)s
    return 0;
}
"""


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_external_is_clean_under_address_and_undefined_behaviour_sanitizers(strategy, tmp_path):
    gcc = require_tool("gcc")
    net, _ = mlp()
    symnet.generate(net, ["casadi"], tmp_path, derivatives=("value", "jacobian", "hessian"), strategy=strategy)
    names = [f"{prefix}mlp" for prefix in ("", "jac_", "fwd1_", "adj1_", "jac_jac_", "jac_fwd1_", "jac_adj1_")]
    declarations = "\n".join(
        f"int {n}(const casadi_real **, casadi_real **, casadi_int *, casadi_real *, int);\n"
        f"const casadi_int *{n}_sparsity_in(casadi_int);\nconst casadi_int *{n}_sparsity_out(casadi_int);\n"
        f"int {n}_work(casadi_int *, casadi_int *, casadi_int *, casadi_int *);" for n in names)
    calls = "\n".join(f'    printf("%.17g\\n", run({n}, {n}_sparsity_in, {n}_sparsity_out, {n}_work, {every}));'
                      for n in names for every in (1, 0))
    (tmp_path / "driver.c").write_text(SANITIZED_DRIVER % {"declarations": declarations, "calls": calls})
    result = _run([gcc, "-std=c99", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                   "-fno-omit-frame-pointer", "driver.c", "mlp_external.c", "mlp_casadi.c", "-lm", "-o", "driver"],
                  tmp_path)
    assert result.returncode == 0, result.stderr
    result = _run([tmp_path / "driver"], tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    totals = [float(line) for line in result.stdout.split()]
    assert len(totals) == 2 * len(names) and all(np.isfinite(totals)), result.stdout


def test_the_command_line_writes_a_double_external_whatever_the_precision(tmp_path):
    """--precision float makes the c target float; the casadi target stays double (casadi_real),
    and a missing value is a one-line error, not a traceback."""
    from pathlib import Path

    from test_bad_input import run_cli
    example = Path(__file__).resolve().parent.parent / "examples" / "pxyz.json"
    code, out, err = run_cli("generate", example, "--target", "casadi", "--target", "c", "--precision", "float",
                             "--name", "p", "--out", tmp_path)
    assert code == 0, err
    assert {"p_external.c", "p_casadi.c", "p_casadi.h", "p.c", "p.h"} <= {p.name for p in tmp_path.iterdir()}
    assert "float" in (tmp_path / "p.h").read_text()
    assert "float" not in (tmp_path / "p_casadi.h").read_text().replace("floating", "")
    f = external_from(tmp_path, "p")
    point = symnet.load(example).evaluate(np.array([[0.1, 0.2, 0.3]]))
    np.testing.assert_allclose(np.array(f([0.1, 0.2, 0.3])).ravel(), np.ravel(point), rtol=1e-12)
    code, out, err = run_cli("generate", example, "--target", "casadi", "--derivatives", "jacobian",
                             "--out", tmp_path / "none")
    assert code != 0 and "casadi target needs the value" in err and "Traceback" not in err


def external_from(folder, name):
    gcc = require_tool("gcc")
    result = _run([gcc, *STRICT_C, "-shared", "-fPIC", f"{name}_external.c", f"{name}_casadi.c", "-lm", "-o",
                   f"lib{name}.so"], folder)
    assert result.returncode == 0, result.stderr
    return casadi.external(name, str(folder / f"lib{name}.so"))


def test_auto_writes_the_external_layered_from_its_own_threshold(tmp_path):
    """A solver calls the external one point at a time, where the layered C is faster from
    about 20 parameters: "auto" writes the casadi target layered there while the c target
    keeps the common threshold; below it both stay unrolled."""
    from symnet.emit.layered_common import LAYERED_FROM_PARAMETERS
    from symnet.emit.casadi import BACKEND
    example = symnet.load(Path(__file__).resolve().parent.parent / "examples" / "pxyz.json")
    assert BACKEND.layered_from_parameters <= example.parameter_count < LAYERED_FROM_PARAMETERS
    symnet.generate(example, ["c", "casadi"], tmp_path / "pxyz", derivatives=["value", "jacobian"], name="p")
    assert "layered" not in (tmp_path / "pxyz" / "p.c").read_text().lower()
    assert "layered" in (tmp_path / "pxyz" / "p_casadi.c").read_text().lower()
    tiny = Network([Input("x", 2)], [Layer(2, "tansig", np.array([0.1, -0.2]), input_weights=[(0, np.eye(2))]),
                                     Layer(1, "purelin", np.array([0.3]), layer_weights=[(0, np.ones((1, 2)))])],
                   [Output("y", 1)])
    assert tiny.parameter_count < BACKEND.layered_from_parameters
    symnet.generate(tiny, ["casadi"], tmp_path / "tiny", derivatives=["value", "jacobian"], name="t")
    assert "layered" not in (tmp_path / "tiny" / "t_casadi.c").read_text().lower()
