"""Numerically safe generated code, in every target and emission strategy.

Every element-wise transfer function f (and f', f'' through the Jacobian and
Hessian of a one-unit layer) is evaluated by the generated code at |n| from
1e-8 to 1e300 and at ±inf, and compared with the textbook formula and its
sympy derivatives evaluated by mpmath at 400 digits (enough that the
formula's own cancellations, e.g. log(1 + exp(-700)), do not matter).

Bounds checked (tolerances):
  * everywhere: |got - exact| <= 1e-13*|exact| + 2e-15, and the result is finite
    wherever the exact value is (±inf input gives the finite limit); an exact
    value of ±inf (softplus(+inf)) must come out as that infinity;
  * in the tails (3 <= |n| <= 1000, exact value a normal double): relative error
    <= 2e-13, so a form that cancels (1 - tanh(n)**2, a*(1 - a)) fails;
    GELU's negative tails are only absolutely accurate (documented);
  * a NaN input gives a NaN value.
Softmax is checked separately on vectors whose entries differ by up to 2e300.
"""

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symnet
from symnet import Input, Layer, Network, Output
from symnet.ir import transfer

from helpers import closed_form
from runners import build, variant_id, variants

FAR = [1e300, 1e200, 1e100, 1e20, 1000.0, 800.5, 745.5, 700.0, 100.0, 40.5, 28.5]
NEAR = [20.0, 7.5, 5.0, 3.0, 1.3, 1.0, 1e-8]
GRID = [float(x) for x in np.linspace(-30, 30, 21) + 0.123]
POINTS = [-math.inf] + [-x for x in FAR + NEAR] + [-0.0, 0.0] + NEAR[::-1] + FAR[::-1] + [math.inf] + GRID

#: functions without a limit at ±inf: NaN there, as IEEE sin(inf) is.  They are built as a network
#: of their own, since a NaN unit may spread to the other outputs of a layered Hessian.
NO_LIMIT = {"sin", "cos"}

LIMIT_CASES = tuple((name, ()) for name, entry in sorted(transfer.REGISTRY.items())
                    if entry.elementwise and name != "expression" and name not in NO_LIMIT) + (
    ("elu", (("alpha", 1.3),)), ("leaky_relu", (("alpha", 0.2),)), ("softplus", (("beta", 2.0),)),
    ("softplus", (("beta", 0.5), ("threshold", 10.0))), ("selu", (("alpha", 1.5), ("scale", 0.9))))
NO_LIMIT_CASES = tuple((name, ()) for name in sorted(NO_LIMIT))
CASES = LIMIT_CASES + NO_LIMIT_CASES

#: functions whose tails are only absolutely accurate (n*(1 + erf(n)) cancels for n << 0)
ABSOLUTE_TAILS = {"gelu", "gelu_tanh"}

RTOL, ATOL, TAIL_RTOL = 1e-13, 2e-15, 2e-13


def safety_network(cases=CASES):
    """One input x; one single-unit layer per case, n = 1.0*x; one output per layer."""
    layers = [Layer(1, name, [0.0], [(0, [[1.0]])], transfer_params=params, name=name) for name, params in cases]
    return Network([Input("x", 1)], layers, [Output(f"y{i}", i) for i in range(len(layers))], name="safety")


def _exact(function, x):
    """function(x) by mpmath.  Up to |x| = 1000, at enough digits that the textbook formula's
    own cancellations (log(1 + exp(-700)), 1 - exp(n)/(1 + exp(n))) leave every double
    exact; further out the exact values are limits or linear and 60 digits leave noise
    below 1e-40 (compared with ATOL only).  ±inf: the limit, from far beyond any double."""
    if math.isinf(x):
        x = mpmath.mpf(10) ** 400 * (1 if x > 0 else -1)
    with mpmath.workdps(400 if 25 < abs(x) <= 1000 else 60):
        return float(function(mpmath.mpf(x)))


@pytest.fixture(scope="module")
def exact():
    """(points, cases, 3): f, f', f'' of each case's textbook formula at every point."""
    n = transfer.elementwise_symbol()
    table = np.empty((len(POINTS), len(CASES), 3))
    for c, (name, params) in enumerate(CASES):
        reference = transfer.lookup(name).reference_expression(n, params)
        for order in range(3):
            # sign(n)' is 2*DiracDelta(n): only at the kink n = 0, which is not compared
            formula = sp.diff(reference, n, order).replace(sp.DiracDelta, lambda *args: 0)
            function = sp.lambdify(n, formula, "mpmath")
            table[:, c, order] = [math.nan if math.isinf(x) and name in NO_LIMIT else _exact(function, x)
                                  for x in POINTS]
    return table


def generated_values(built):
    X = np.array(POINTS)[:, None]
    return np.stack([built.evaluate("value", X), built.evaluate("jacobian", X)[:, :, 0],
                     built.evaluate("hessian", X)[:, :, 0, 0]], axis=2)


def problems(got, exact):
    """Every (case, order, point) outside the stated bounds, as text."""
    found = []
    for (p, c, order), want in np.ndenumerate(exact):
        x, value = POINTS[p], got[p, c, order]
        if order == 2 and x == 0:
            continue   # elliotsig'' has a kink at 0: its convention is tested in test_transfer
        name = f"{CASES[c][0]}{dict(CASES[c][1]) or ''} order {order} at x={x!r}: got {value!r}, exact {want!r}"
        if math.isnan(want):
            ok = math.isnan(value)
        elif math.isinf(want):
            ok = value == want
        else:
            ok = math.isfinite(value) and abs(value - want) <= RTOL * abs(want) + ATOL
            if ok and 3 <= abs(x) <= 1000 and abs(want) > 1e-300 and CASES[c][0] not in ABSOLUTE_TAILS:
                ok = abs(value - want) <= TAIL_RTOL * abs(want)
        if not ok:
            found.append(name)
    return found


@pytest.mark.parametrize("variant", variants(), ids=variant_id)
def test_transfer_functions_and_derivatives_are_accurate_and_finite_far_out(variant, exact, tmp_path):
    target, strategy = variant
    got = [generated_values(build(target, safety_network(cases), tmp_path / str(part), strategy=strategy))
           for part, cases in enumerate((LIMIT_CASES, NO_LIMIT_CASES))]
    found = problems(np.concatenate(got, axis=1), exact)
    assert not found, f"{len(found)} values out of bounds:\n" + "\n".join(found[:30])


@pytest.mark.parametrize("variant", variants(), ids=variant_id)
def test_a_nan_input_gives_nan_values(variant, tmp_path):
    target, strategy = variant
    built = build(target, safety_network(), tmp_path, derivatives=("value",), strategy=strategy)
    values = built.evaluate("value", np.array([[math.nan]]))[0]
    assert np.all(np.isnan(values)), [CASES[i][0] for i in np.flatnonzero(~np.isnan(values))]


def test_tanh_slope_is_exact_where_one_minus_tanh_squared_is_not():
    """The tail check above would catch 1 - tanh(n)**2: here is why (the form it replaced)."""
    x = 20.0
    assert 1 - math.tanh(x) ** 2 == 0.0
    exact_slope = float(1 / mpmath.cosh(mpmath.mpf(x)) ** 2)
    n = transfer.elementwise_symbol()
    slope = sp.lambdify(n, transfer.lookup("tansig").derivative(n, sp.Symbol("a")), "math")
    assert slope(x) == pytest.approx(exact_slope, rel=4e-16)


# --- softmax ----------------------------------------------------------------------------

SOFTMAX_POINTS = np.array([[1e300, 0.0, -1e300], [1000.0, 999.5, -5.0], [-1e300, -1e300, -1e300],
                           [0.1, 0.2, 0.3], [-800.0, -800.5, -1000.0], [1e300, 1e300, 0.0], [750.0, -750.0, 1.0]])


def softmax_network():
    return Network([Input("x", 3)], [Layer(3, "softmax", [0.0] * 3, [(0, np.eye(3))])], [Output("p", 0)],
                   name="softmax")


def softmax_exact(x):
    """Value, Jacobian and Hessian of softmax at 60 digits."""
    with mpmath.workdps(60):
        e = [mpmath.exp(mpmath.mpf(v)) for v in x]
        s = [v / sum(e) for v in e]
        d = lambda i, j: 1 if i == j else 0  # noqa: E731
        value = [float(v) for v in s]
        jacobian = [[float(s[i] * (d(i, j) - s[j])) for j in range(3)] for i in range(3)]
        hessian = [[[float(s[i] * ((d(i, j) - s[j]) * (d(i, k) - s[k]) - s[j] * (d(j, k) - s[k])))
                     for k in range(3)] for j in range(3)] for i in range(3)]
    return np.array(value), np.array(jacobian), np.array(hessian)


@pytest.mark.parametrize("variant", variants(), ids=variant_id)
def test_softmax_is_exact_for_inputs_far_apart(variant, tmp_path):
    target, strategy = variant
    built = build(target, softmax_network(), tmp_path, strategy=strategy)
    for what, index in (("value", 0), ("jacobian", 1), ("hessian", 2)):
        got = built.evaluate(what, SOFTMAX_POINTS)
        want = np.array([softmax_exact(x)[index] for x in SOFTMAX_POINTS])
        assert np.all(np.isfinite(got)), what
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15, err_msg=what)


# --- a whole network, pushed far outside its training range -------------------------------

@pytest.mark.parametrize("variant", variants(), ids=variant_id)
def test_a_trained_network_stays_finite_at_extreme_inputs(variant, tmp_path):
    """The bundled example (tansig hidden layer, mapminmax on both sides) at inputs up to
    ±1e300 and ±inf: saturated units give finite values and exactly zero slopes."""
    target, strategy = variant
    net = symnet.load(symnet_example())
    built = build(target, net, tmp_path, strategy=strategy)
    X = np.array([[1e300, 0.03, 3.0], [300.0, -1e300, 3.0], [300.0, 0.03, math.inf],
                  [-math.inf, 0.03, 3.0], [300.0, 0.03, 3.0]])
    reference = {what: closed_form(net, what)(X) for what in ("value", "jacobian", "hessian")}
    for what in ("value", "jacobian", "hessian"):
        got = built.evaluate(what, X)
        assert np.all(np.isfinite(got)), what
        np.testing.assert_allclose(got, reference[what], rtol=1e-12, atol=1e-12 * np.abs(reference[what]).max())


def symnet_example():
    from conftest import REPO
    return REPO / "examples" / "pxyz.json"


# --- the C target in single precision ---------------------------------------------------------

FLOAT_POINTS = [-math.inf, -1e38, -1e30, -1000.0, -100.0, -20.0, -3.0, -1.0, -0.5, 0.5, 1.0, 3.0, 20.0,
                100.0, 1000.0, 1e30, 1e38, math.inf]

FLOAT_DRIVER = """#include <math.h>
#include <stdio.h>
#include "safety.h"
int main(void)
{
    static const float xs[] = {%s};
    float y[SAFETY_N_OUTPUTS], j[SAFETY_N_OUTPUTS], h[SAFETY_N_OUTPUTS];
    size_t i;
    int k;
    for (i = 0; i < sizeof xs / sizeof xs[0]; ++i) {
        safety_evaluate(&xs[i], y);
        safety_jacobian(&xs[i], j);
        safety_hessian(&xs[i], h);
        for (k = 0; k < SAFETY_N_OUTPUTS; ++k) {
            printf("%%.9g %%.9g %%.9g\\n", (double)y[k], (double)j[k], (double)h[k]);
        }
    }
    return 0;
}
"""


def test_c_in_single_precision_is_finite_and_close_far_out(tmp_path):
    """--precision float: expf, tanhf, log1pf, expm1f of the same safe forms; at |n| up to
    1e38 and ±inf every value and derivative is finite where the exact one is, and within
    1e-5 relative (plus 1e-6) of it."""
    from helpers import require_tool
    from runners import STRICT_C
    gcc = require_tool("gcc")
    symnet.generate(safety_network(), ["c"], tmp_path, derivatives=("value", "jacobian", "hessian"),
                    precision="float", strategy="unrolled")
    literals = ", ".join("-INFINITY" if x == -math.inf else "INFINITY" if x == math.inf else f"{x!r}f"
                         for x in FLOAT_POINTS)
    (tmp_path / "driver.c").write_text(FLOAT_DRIVER % literals)
    import subprocess
    build = subprocess.run([gcc, *STRICT_C, "driver.c", "safety.c", "-lm", "-o", "driver"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run(["./driver"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    got = np.array([[float(v) for v in line.split()] for line in run.stdout.splitlines()])
    got = got.reshape(len(FLOAT_POINTS), len(CASES), 3)
    n = transfer.elementwise_symbol()
    failures = []
    for c, (name, params) in enumerate(CASES):
        reference = transfer.lookup(name).reference_expression(n, params)
        for order in range(3):
            function = sp.lambdify(n, sp.diff(reference, n, order).replace(sp.DiracDelta, lambda *a: 0), "mpmath")
            for p, x in enumerate(FLOAT_POINTS):
                want, value = _exact(function, x), got[p, c, order]
                if name in NO_LIMIT and (math.isinf(x) or abs(x) > 1e3):
                    # no limit at ±inf; 1e30 and 1e38 are not floats, and sin of the nearest float differs
                    want = math.nan if math.isinf(x) else _exact(function, float(np.float32(x)))
                if math.isfinite(want) and abs(want) > 3.4e38:
                    want = math.copysign(math.inf, want)   # beyond the largest float
                ok = math.isnan(value) if math.isnan(want) else value == want if math.isinf(want) else (
                    math.isfinite(value) and abs(value - want) <= 1e-5 * abs(want) + 1e-6)
                if not ok:
                    failures.append(f"{name}{dict(params) or ''} order {order} at {x!r}: {value!r}, exact {want!r}")
    assert not failures, "\n".join(failures[:30])
