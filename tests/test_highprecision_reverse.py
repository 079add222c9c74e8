"""The reverse-mode 30-digit reference (symnet.reference.high_precision_reverse) and the choice of mode.

Reverse mode is checked three ways:

  * against the forward mode (symnet.reference.high_precision) entry by entry, at 30 digits against
    60, on networks of every transfer function in the registry with several inputs and
    outputs, processing steps on both sides, removed rows and cascade links;
  * its Jacobian against mpmath's numerical differentiation of the value at 60 digits
    (shares the value pass, none of the way back);
  * against central differences of the double-precision evaluation (symnet/ir/evaluation.py).
"""

from fractions import Fraction

import mpmath
import numpy as np
import pytest

import symnet.reference.high_precision as highprecision
from symnet import Input, Layer, Network, Output
from symnet.ir import transfer
from symnet.reference.finite_differences import compare, finite_difference_jacobian, sample_points
from symnet.reference.fixed_point import Dyadic, transposed_affine
from symnet.reference.high_precision import (REVERSE_PASS_COLUMNS, chosen_mode, forward, reference_numbers, reference_numbers_of,
                                  reference_values)
from symnet.reference.high_precision_reverse import value_and_jacobian

from helpers import SMOOTH_TRANSFERS, random_network, random_output_steps, random_steps
from test_highprecision import whole_double_range_network

#: every registered transfer function; ``expression`` with a formula of its own
TRANSFERS = tuple((name, ()) for name in sorted(transfer.REGISTRY) if name != "expression") + (
    ("expression", (("expression", "n*tanh(log(exp(n) + 1))"),)),)


def transfer_network(name, params, seed):
    """Two inputs with processing steps (removed rows among them), two hidden layers of
    ``name``, a cascade link from the inputs and from the first layer into the last, an
    output layer with output steps and a hidden layer as a second output."""
    rng = np.random.default_rng(seed)
    inputs, processed = [], []
    for index, size in enumerate((3, 2)):
        steps, width = random_steps(rng, size)
        inputs.append(Input(f"in{index}", size, steps))
        processed.append(width)

    def weights(rows, columns, scale=0.8):
        return rng.normal(scale=scale, size=(rows, columns))

    hidden = dict(transfer_params=params)
    layers = [Layer(4, name, rng.normal(size=4), [(0, weights(4, processed[0])), (1, weights(4, processed[1]))],
                    **hidden),
              Layer(3, name, rng.normal(size=3), [], [(0, weights(3, 4))], **hidden),
              Layer(2, "tansig", rng.normal(size=2), [(1, weights(2, processed[1]))],
                    [(1, weights(2, 3)), (0, weights(2, 4, 0.5))])]
    steps, _ = random_output_steps(rng, 2)
    return Network(inputs, layers, [Output("out", 2, steps), Output("hidden_out", 1, [])], name=f"{name}{seed}")


def assert_close(low, high, relative=1e-27, floor=1e-30):
    """|low - high| <= relative*|high| + floor*(largest |high|), entry by entry, at 60 digits."""
    assert low.shape == high.shape
    with mpmath.workdps(60):
        scale = max((abs(h) for h in high.reshape(-1)), default=0)
        for a, b in zip(low.reshape(-1), high.reshape(-1)):
            assert abs(a - b) <= relative * abs(b) + floor * scale, (a, b)


def first_order(net, points, digits, mode):
    numbers = reference_numbers_of(net, ("value", "jacobian"), points, digits, mode)
    return np.concatenate([numbers["value"][..., None], numbers["jacobian"]], axis=-1)


# --- reverse against forward --------------------------------------------------------------

@pytest.mark.parametrize("name, params", TRANSFERS, ids=[name for name, _ in TRANSFERS])
def test_reverse_agrees_with_forward_on_every_transfer_function(name, params):
    """Reverse mode at 30 digits against forward mode at 60, and against forward mode at 30."""
    for seed in (0, 1):
        net = transfer_network(name, params, seed)
        X = sample_points(net, 3, seed=seed)
        reverse = first_order(net, X, 30, "reverse")
        assert_close(reverse, first_order(net, X, 60, "forward"))
        assert_close(reverse, first_order(net, X, 30, "forward"))
        assert any(v != 0 for v in reverse[..., 1:].reshape(-1)), "a zero Jacobian checks nothing"


@pytest.mark.parametrize("seed", range(16))
def test_reverse_agrees_with_forward_on_random_networks(seed):
    """Depths 1-4, mixed transfer functions, softmax, cascade links, removed rows."""
    net = random_network(seed, cascade=seed % 2 == 0)
    X = sample_points(net, 3, seed=seed)
    assert_close(first_order(net, X, 30, "reverse"), first_order(net, X, 60, "forward"))


def test_reverse_keeps_thirty_digits_with_weights_across_the_whole_double_range():
    """Weights from the smallest subnormal to 1e280, a layer with only a bias (no sources)."""
    net, X = whole_double_range_network()
    # entry by entry: the large entries must not swamp the small ones
    assert_close(first_order(net, X, 30, "reverse"), first_order(net, X, 60, "forward"), floor=0)


def test_the_gradient_alone_takes_the_first_row_back():
    net = transfer_network("tansig", (), 3)
    X = sample_points(net, 2, seed=3)
    with mpmath.workdps(30):
        only_first = value_and_jacobian(net, X, rows=[0])
    gradient = reference_numbers(net, "jacobian", X, 60, "forward")[:, 0]
    assert_close(only_first[0, :, 1:], gradient)
    assert all(v == 0 for v in only_first[1:, :, 1:].reshape(-1))   # documented: rows not asked for stay zero
    assert_close(reference_numbers(net, "gradient", X, 30, "reverse"), gradient)


# --- reverse against independent references --------------------------------------------------

def sixty_digit_differences(net, point):
    """The Jacobian by mpmath.diff of the value (order-0 forward mode) at 60 digits."""
    n = net.n_inputs
    with mpmath.workdps(60):
        def output(index):
            return lambda *x: forward(net, np.array([x], dtype=object), order=0)[index, 0, 0]
        point = [mpmath.mpf(float(x)) for x in point]
        return np.array([[mpmath.diff(output(i), point, tuple(int(j == k) for j in range(n))) for k in range(n)]
                         for i in range(net.n_outputs)], dtype=object)


@pytest.mark.parametrize("name", ["tansig", "softmax", "swish", "poslin"])
def test_reverse_agrees_with_sixty_digit_differences(name):
    net = transfer_network(name, (), 5)
    X = sample_points(net, 1, seed=5)
    assert_close(reference_numbers(net, "jacobian", X, 30, "reverse")[0], sixty_digit_differences(net, X[0]))


@pytest.mark.parametrize("seed", [0, 5, 9])
def test_reverse_agrees_with_central_differences(seed):
    net = random_network(seed, transfers=SMOOTH_TRANSFERS + ("softmax",), cascade=True)
    X = sample_points(net, 3, seed=seed)
    jacobian = reference_values(net, "jacobian", X, mode="reverse")
    assert compare(jacobian, finite_difference_jacobian(net, X)).max_rel_error <= 1e-6
    np.testing.assert_allclose(reference_values(net, "value", X, mode="reverse"), net.evaluate(X),
                               rtol=1e-13, atol=1e-13)


def exact(x):
    """The rational value of an mpf."""
    sign, mantissa, exponent, _ = x._mpf_
    return (-1)**sign * Fraction(mantissa) * Fraction(2)**exponent


def test_transposed_affine_map_is_exact():
    """W^T v over two sources, weights across 600 binary orders of magnitude: each entry is
    the exact rational sum; the bias takes no part."""
    first, second = np.array([[1e-150, -1.0], [0.1, 0.2]]), np.array([[3e30], [-0.3]])
    layer = Layer(2, "purelin", [1e20, -0.0], [(0, first), (1, second)])
    with mpmath.workdps(30):
        adjoints = [[mpmath.mpf(1) / 3, mpmath.mpf(-2)], [mpmath.mpf("-1e-12") / 7, mpmath.mpf(2) / 9]]
        sums = transposed_affine(layer, Dyadic.from_mpf(np.array(adjoints, dtype=object)))
    assert sums.shape == (3, 2)
    for s, column in enumerate(np.hstack([first, second]).T):
        for c in range(2):
            expected = sum(Fraction(w) * exact(adjoints[j][c]) for j, w in enumerate(column))
            assert sums.mantissas[s, c] * Fraction(2)**int(sums.exponents[s, c]) == expected


# --- the choice of mode ---------------------------------------------------------------------

def dense(sizes, transfer_name="tansig"):
    rng = np.random.default_rng(0)
    layers = []
    for k in range(1, len(sizes)):
        links = dict(input_weights=[(0, rng.normal(size=(sizes[k], sizes[k - 1])) / np.sqrt(sizes[k - 1]))]) \
            if k == 1 else dict(layer_weights=[(k - 2, rng.normal(size=(sizes[k], sizes[k - 1])) / 3)])
        name = "purelin" if k == len(sizes) - 1 else transfer_name
        layers.append(Layer(sizes[k], name, rng.normal(size=sizes[k]) * 0.3, **links))
    return Network([Input("x", sizes[0])], layers, [Output("y", len(layers) - 1)])


def test_auto_picks_reverse_for_many_inputs_and_few_outputs(monkeypatch):
    """A 784-like shape: the reference runs without the forward mode and gives its digits."""
    net = dense((60, 8, 8, 3))
    X = sample_points(net, 2, seed=0)
    assert chosen_mode(net, ("value", "jacobian"), 2) == "reverse"
    expected = first_order(net, X, 60, "forward")

    def refuse(*args, **kwargs):
        raise AssertionError("auto ran the forward mode")

    monkeypatch.setattr(highprecision, "forward", refuse)
    assert_close(first_order(net, X, 30, "auto"), expected)


def test_auto_picks_forward_for_hessians_values_and_few_inputs():
    wide = dense((60, 8, 8, 3))
    assert chosen_mode(wide, ("value", "jacobian", "hessian"), 5) == "forward"
    assert chosen_mode(wide, ("hessian",), 5) == "forward"
    assert chosen_mode(wide, ("value",), 5) == "forward"
    assert chosen_mode(dense((2, 8, 8, 3)), ("value", "jacobian"), 5) == "forward"
    # the way back costs a second pass: worth it from REVERSE_PASS_COLUMNS saved columns on
    assert REVERSE_PASS_COLUMNS == 25
    assert chosen_mode(dense((8, 8, 3)), ("jacobian",), 5) == "forward"      # 25 columns saved
    assert chosen_mode(dense((9, 8, 3)), ("jacobian",), 5) == "reverse"      # 30
    assert chosen_mode(dense((9, 8, 3)), ("jacobian",), 1) == "forward"      # 6
    assert chosen_mode(dense((7, 8, 1)), ("value", "gradient"), 5) == "reverse"   # the gradient: one row back
    X = sample_points(wide, 1, seed=0)
    hessian = reference_numbers(wide, "hessian", X)   # auto: forward, the only mode with Hessians
    assert hessian.shape == (1, 3, 60, 60)


def test_reverse_refuses_hessians_and_unknown_modes():
    net = dense((4, 3, 2))
    with pytest.raises(ValueError, match="Hessians take mode 'forward'"):
        reference_numbers(net, "hessian", [[0.1] * 4], mode="reverse")
    with pytest.raises(ValueError, match=r"unknown reference mode 'sideways' \(supported: auto, forward, reverse\)"):
        reference_numbers(net, "jacobian", [[0.1] * 4], mode="sideways")


def test_a_function_of_the_whole_layer_takes_its_jacobian_transposed():
    """Softmax's Jacobian is symmetric, so the networks above cannot tell J from J^T: a
    function of the whole layer with an asymmetric Jacobian, at one point."""
    from symnet.reference.high_precision_reverse import _through_transfer
    with mpmath.workdps(30):
        jacobian = np.array([[mpmath.mpf(1), mpmath.mpf(2)], [mpmath.mpf(-3), mpmath.mpf(5)]], dtype=object)
        adjoints = Dyadic.from_mpf(np.array([[mpmath.mpf(7)], [mpmath.mpf(-1) / 4]], dtype=object))
        result = _through_transfer(None, [jacobian], adjoints, 1).to_mpf()
    assert [exact(v) for v in result[:, 0]] == [7 + Fraction(3, 4), 14 - Fraction(5, 4)]
