"""symnet.reference.spec_check, what ``symnet check`` runs: every kind of the derivative spec
against finite differences and the 30-digit reference, and a wrong derivative of each kind
caught by both."""

import numpy as np
import pytest

import symnet
from symnet.reference.finite_differences import sample_points
from symnet.reference.spec_check import check_spec
from test_derivative_spec import _square_network

KINDS = ("value", "jacobian", "hessian", "jvp", "vjp", "hvp", "laplacian", "divergence", "d1y2_dx3",
         "d2y1_dx1_dx3", "d2y3_dx2_dx2", "d3y1_dx1_dx2_dx3")


@pytest.fixture(scope="module")
def square():
    return _square_network()


def test_every_kind_passes_against_differences_and_reference(square):
    X = sample_points(square, 4, seed=3)
    checks = check_spec(square, KINDS, X, symnet.derive, seed=3)
    assert [check.what for check in checks] == ["jacobian"] + [w for w in KINDS if w != "jacobian"]
    for check in checks:
        assert check.differences.max_rel_error < 1e-6, check
        assert check.reference.max_rel_error < 1e-12, check
        assert check.within(1e-6)


class _Wrong:
    """derive, with one derivative's result off by a relative 1e-4."""

    def __init__(self, what):
        self.what = what

    def __call__(self, net, what):
        function = symnet.derive(net, what)
        if what != self.what:
            return function
        return lambda X, *extra: np.asarray(function(X, *extra)) * (1 + 1e-4)


@pytest.mark.parametrize("what", KINDS)
def test_a_wrong_derivative_of_each_kind_fails_both_comparisons(square, what):
    X = sample_points(square, 3, seed=4)
    (check,) = [c for c in check_spec(square, (what,), X, _Wrong(what), seed=4) if c.what == what]
    assert check.differences.max_rel_error > 5e-5, check
    assert check.reference.max_rel_error > 5e-5, check
    assert not check.within(1e-6)
