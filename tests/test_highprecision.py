"""The 30-digit reference behind the self-checks (symnet.reference.high_precision, symnet.reference.fixed_point).

Its digits are checked three ways on random networks (every transfer function,
cascade links, softmax, removed rows, several inputs and outputs):

  * against the same computation at 60 digits, entry by entry;
  * its derivatives against mpmath's numerical differentiation of the value at
    60 digits (differences taken at extra precision, so they resolve far more
    than 30 digits; this shares the value path but none of the chain rule);
  * against central differences of the double-precision evaluation (symnet/ir/evaluation.py).

The integer arithmetic of the affine maps is checked to be exact.  The
reference also agrees with the symbolic path and with a hand-written sympy
network at 50 digits (tests/test_embedded_targets.py).
"""

from fractions import Fraction

import mpmath
import numpy as np
import pytest

from symnet import Input, Layer, Network, Output
from symnet.reference.finite_differences import compare, finite_difference_hessian, finite_difference_jacobian, sample_points
from symnet.reference.fixed_point import GUARD_BITS, Dyadic, affine, exact_products, to_fixed_columns, weight_rows
from symnet.reference.high_precision import Layout, forward, reference_numbers, reference_values

from helpers import ALL_TRANSFERS, SMOOTH_TRANSFERS, random_network

WHATS = ("value", "gradient", "jacobian", "hessian")


def network(seed, smooth=False):
    transfers = SMOOTH_TRANSFERS + ("softmax",) if smooth else ALL_TRANSFERS
    return random_network(seed, transfers=transfers, cascade=seed % 3 == 0)


def assert_close(low, high, relative, floor):
    """|low - high| <= relative*|high| + floor*(largest |high|), entry by entry, at 60 digits."""
    with mpmath.workdps(60):
        scale = max((abs(h) for h in high.reshape(-1)), default=0)
        for a, b in zip(low.reshape(-1), high.reshape(-1)):
            assert abs(a - b) <= relative * abs(b) + floor * scale, (a, b)


# --- digits -------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(12))
def test_thirty_digits_agree_with_sixty(seed):
    """Measured: at most 9e-29 of the entry, 3e-31 of the largest entry (16 networks)."""
    net = network(seed)
    X = sample_points(net, 3, seed=seed)
    for what in WHATS:
        assert_close(reference_numbers(net, what, X, 30), reference_numbers(net, what, X, 60), 1e-27, 1e-30)


def whole_double_range_network():
    """Weights from the smallest subnormal to 1e280 in one network, a layer with only a bias;
    and two points."""
    net = Network([Input("x", 2)],
                  [Layer(2, "tansig", [0.3, 1e-300], [(0, [[1e-300, 2.0], [5e-324, -1e200]])]),
                   Layer(1, "purelin", [0.7]),
                   Layer(2, "purelin", [1e250, -3.0], layer_weights=[(0, [[1e280, 1e-280], [1.0, 1.0]]),
                                                                      (1, [[2.0], [-0.5]])])],
                  [Output("y", 2)])
    return net, np.array([[0.3, -0.2], [1e-3, 2.5]])


def test_weights_across_the_whole_double_range_keep_thirty_digits():
    net, X = whole_double_range_network()
    for what in WHATS:   # entry by entry: the large entries must not swamp the small ones
        assert_close(reference_numbers(net, what, X, 30), reference_numbers(net, what, X, 60), 1e-27, 0)


def high_precision_differences(net, point):
    """Jacobian and Hessian of the value (order-0 forward mode) by mpmath.diff at 60 digits."""
    n = net.n_inputs
    with mpmath.workdps(60):
        def output(index):
            return lambda *x: forward(net, np.array([x], dtype=object), order=0)[index, 0, 0]
        point = [mpmath.mpf(float(x)) for x in point]
        outputs = range(net.n_outputs)
        jacobian = [[mpmath.diff(output(i), point, tuple(int(j == k) for j in range(n))) for k in range(n)]
                    for i in outputs]
        hessian = [[[mpmath.diff(output(i), point, tuple((j == k) + (j == m) for j in range(n)))
                     for m in range(n)] for k in range(n)] for i in outputs]
    return np.array(jacobian, dtype=object), np.array(hessian, dtype=object)


@pytest.mark.parametrize("seed", [1, 3, 4, 10])
def test_derivatives_agree_with_sixty_digit_differences(seed):
    """Measured: within 3e-30 of max(|entry|, 1e-3 of the largest entry)."""
    net = network(seed)
    X = sample_points(net, 1, seed=seed)
    jacobian, hessian = high_precision_differences(net, X[0])
    assert np.any(hessian != 0), "a network whose Hessian is zero here checks nothing"
    assert_close(reference_numbers(net, "jacobian", X)[0], jacobian, 1e-27, 1e-30)
    assert_close(reference_numbers(net, "hessian", X)[0], hessian, 1e-27, 1e-30)


@pytest.mark.parametrize("seed", [0, 5, 9])
def test_derivatives_agree_with_central_differences(seed):
    net = network(seed, smooth=True)
    X = sample_points(net, 3, seed=seed)
    jacobian = reference_values(net, "jacobian", X)
    assert compare(jacobian, finite_difference_jacobian(net, X)).max_rel_error <= 1e-6
    fd = finite_difference_hessian(lambda Y: reference_values(net, "jacobian", Y), net, X)
    # differences of a Jacobian carry an absolute error: measured against the largest entry
    assert np.abs(reference_values(net, "hessian", X) - fd).max() <= 1e-6 * np.abs(fd).max()
    np.testing.assert_allclose(reference_values(net, "value", X), net.evaluate(X), rtol=1e-13, atol=1e-13)


def test_results_have_the_derivative_shapes():
    net = network(4)
    X = sample_points(net, 2, seed=0)
    n, m = net.n_inputs, net.n_outputs
    shapes = {"value": (2, m), "gradient": (2, n), "jacobian": (2, m, n), "hessian": (2, m, n, n)}
    for what, shape in shapes.items():
        assert reference_values(net, what, X).shape == shape
    assert np.array_equal(reference_values(net, "gradient", X), reference_values(net, "jacobian", X)[:, 0])
    hessian = reference_values(net, "hessian", X)
    assert np.array_equal(hessian, hessian.transpose(0, 1, 3, 2))
    assert Layout(3, 2).size == 1 + 3 + 6 and Layout(3, 1).size == 4 and Layout(3, 0).size == 1


# --- exact integer arithmetic ---------------------------------------------------------------

def test_packed_products_are_exact():
    rng = np.random.default_rng(0)
    rows = [[int(v) << int(s) for v, s in zip(rng.integers(-2**40, 2**40, 9), rng.integers(0, 90, 9))]
            for _ in range(6)]
    rows[2] = [0] * 9
    columns = [[int(v) * 3**int(s) for v, s in zip(rng.integers(-2**30, 2**30, 5), rng.integers(0, 80, 5))]
               for _ in range(9)]
    expected = np.array(rows, dtype=object).dot(np.array(columns, dtype=object))
    assert exact_products(rows, columns) == expected.tolist()


def test_weight_rows_hold_every_weight_and_bias_exactly():
    weights = np.array([[0.1, -5e-324, 1e300], [0.0, -0.0, 3.0]])
    layer = Layer(2, "purelin", [-2.5e-310, 7.0], [(0, weights)])
    rows, exponents = weight_rows(layer)
    for row, exponent, expected in zip(rows, exponents, np.hstack([weights, layer.bias[:, None]])):
        assert [Fraction(v) * Fraction(2)**exponent for v in row] == [Fraction(w) for w in expected]


def exact(x):
    """The rational value of an mpf."""
    sign, mantissa, exponent, _ = x._mpf_
    return (-1)**sign * Fraction(mantissa) * Fraction(2)**exponent


def test_columns_are_exact_within_the_guard_and_rounded_beyond_it():
    with mpmath.workdps(30):
        tiny = mpmath.ldexp(mpmath.mpf(1) / 3, -mpmath.mp.prec - GUARD_BITS - 40)
        values = np.array([[mpmath.mpf(1) / 3, mpmath.mpf(-7)], [mpmath.mpf("1e-15"), tiny]], dtype=object)
        ints, exponents = to_fixed_columns(Dyadic.from_mpf(values))
    unit = [Fraction(2)**e for e in exponents]
    assert [ints[k][0] * unit[0] for k in range(2)] == [exact(x) for x in values[:, 0]]
    assert ints[0][1] * unit[1] == -7
    assert ints[1][1] * unit[1] != exact(tiny)
    assert abs(ints[1][1] * unit[1] - exact(tiny)) <= unit[1] / 2


def test_affine_map_is_exact():
    """Weights and inputs across 600 binary orders of magnitude: each net input is the
    exact rational sum."""
    weights = np.array([[1e-150, -1.0, 3e30], [0.1, 0.2, -0.3]])
    layer = Layer(2, "purelin", [1e20, -0.0], [(0, weights)])
    with mpmath.workdps(30):
        inputs = [mpmath.mpf(1) / 3, mpmath.mpf("-1e-12") / 7, mpmath.mpf(2) / 9, mpmath.mpf(1)]
        sums = affine(layer, Dyadic.from_mpf(np.array([[x] for x in inputs], dtype=object)))
    for j, row in enumerate(np.hstack([weights, layer.bias[:, None]])):
        expected = sum(Fraction(w) * exact(x) for w, x in zip(row, inputs))
        assert sums.mantissas[j, 0] * Fraction(2)**int(sums.exponents[j, 0]) == expected


def test_dyadic_arithmetic_is_exact():
    with mpmath.workdps(30):
        a = np.array([mpmath.mpf(1) / 3, mpmath.mpf("1e-200"), mpmath.mpf(0)], dtype=object)
        b = np.array([mpmath.mpf(-7) / 11, mpmath.mpf("3e100"), mpmath.mpf(5)], dtype=object)
        x, y = Dyadic.from_mpf(a), Dyadic.from_mpf(b)
    for result, operation in ((x * y, lambda p, q: p * q), (x + y, lambda p, q: p + q), (x * y + x, None)):
        for index in range(3):
            expected = exact(a[index]) * exact(b[index]) + exact(a[index]) if operation is None \
                else operation(exact(a[index]), exact(b[index]))
            assert result.mantissas[index] * Fraction(2)**int(result.exponents[index]) == expected


# --- functions of a whole layer: forward mode over the expression graph -----------------------

def _symbolic_tables(expressions, symbols, point):
    """sympy's own first and second derivatives, evaluated at 60 digits: the independent side."""
    import sympy as sp
    with mpmath.workdps(60):
        subs = dict(zip(symbols, (sp.Float(mpmath.mpf(v), 70) for v in point)))
        first = [[sp.diff(e, s).evalf(65, subs=subs) for s in symbols] for e in expressions]
        second = [[[sp.diff(e, s, t).evalf(65, subs=subs) for t in symbols] for s in symbols] for e in expressions]
        return [e.evalf(65, subs=subs) for e in expressions], first, second


@pytest.mark.parametrize("case", ["softmax", "mixed"])
def test_forward_mode_jets_agree_with_sympys_derivatives_to_thirty_digits(case):
    import sympy as sp
    from symnet.reference.jets import evaluate
    from symnet.ir.transfer import lookup
    ns = sp.symbols("n0:4", real=True)
    if case == "softmax":
        expressions = lookup("softmax").build(list(ns))
    else:   # every kind of node the forward mode has a rule for: sums, products, powers, functions
        expressions = [sp.tanh(ns[0] * ns[1]) / (1 + ns[2] ** 2), sp.log(2 + sp.exp(ns[3] - ns[0])) * sp.sqrt(3 + ns[1]),
                       sp.Rational(3, 7) * ns[2] ** 3 - sp.erf(ns[3]) + sp.pi]
    point = [0.3, -1.25, 2.0, 0.7]
    with mpmath.workdps(30):
        jets = evaluate(expressions, ns, point, order=2)
    values, first, second = _symbolic_tables(expressions, ns, point)
    for j, jet in enumerate(jets):
        expected = [values[j]] + first[j] + [v for row in second[j] for v in row]
        actual = [jet.value] + list(jet.grad) + list(jet.hess.reshape(-1))
        for a, e in zip(actual, expected):
            assert abs(mpmath.mpf(a) - mpmath.mpf(e)) <= mpmath.mpf(10) ** -28 * max(1, abs(mpmath.mpf(e)))


def test_softmax_reference_does_not_build_sympys_derivatives(monkeypatch):
    """The second derivatives of a wide softmax, built by sympy, took minutes and gigabytes (width 40:
    21 min, 5.4 GB); the reference now evaluates them by forward mode, and agrees with sympy's on a
    narrow layer (above) and with differences of the value (the tests of random networks)."""
    import symnet.reference.high_precision as highprecision

    elementwise_only = highprecision._transfer_functions

    def refuse_softmax(name, *args):
        assert name != "softmax", "sympy's derivatives of the softmax were built"
        return elementwise_only(name, *args)

    monkeypatch.setattr(highprecision, "_transfer_functions", refuse_softmax)
    rng = np.random.default_rng(0)
    width = 24
    net = Network([Input("x", 2, [])],
                  [Layer(width, "tansig", rng.normal(size=width), [(0, rng.normal(size=(width, 2)))], []),
                   Layer(width, "softmax", rng.normal(size=width), [], [(0, rng.normal(size=(width, width)))])],
                  [Output("y", 1, [])])
    points = rng.normal(size=(2, 2))
    hessian = np.array(reference_numbers(net, "hessian", points), dtype=float)
    jacobian = lambda X: np.array(reference_numbers(net, "jacobian", X), dtype=float)   # noqa: E731
    assert compare(hessian, finite_difference_hessian(jacobian, net, points)).max_rel_error < 1e-7


@pytest.mark.parametrize("depth", [4, 40])
def test_a_transfer_function_beyond_the_double_range_is_refused_in_one_line(depth):
    """exp nested in exp: at depth 4 the value is about 10^1600000, a finite mpf but no double;
    at depth 40 mpmath's own exponent overflows (an internal error before)."""
    from symnet.errors import UnsupportedError
    formula = "n"
    for _ in range(depth):
        formula = f"exp({formula})"
    net = Network([Input("x", 1, [])],
                  [Layer(1, "expression", [1.0], [(0, [[1.0]])], [], (("expression", formula),), name="wild")],
                  [Output("y", 0, [])])
    with pytest.raises(UnsupportedError, match=r"^layer 'wild': transfer function 'expression' or its derivatives"
                                               r" reach .* inside the training range, beyond the double range$"):
        reference_numbers(net, "jacobian", [[0.5]])
