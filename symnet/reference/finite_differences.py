"""Numerical checks of symbolic derivatives against central finite differences
of the network's direct numeric evaluation (an independent path).

The differences are taken of ``symnet.ir.evaluation.evaluate``, named here on purpose
(not ``Network.evaluate``, not ``derive(net, "value")``): it walks the IR layer by
layer with the registry's transfer functions and shares nothing with the layered
steps, printers and templates that ``symnet.derive`` evaluates, so a Jacobian is
never checked against differences of its own code.
"""

from dataclasses import dataclass

import numpy as np

from .. import progress
from ..ir.evaluation import evaluate


def sample_points(net, count, seed=0, margin=0.05):
    """``count`` random raw inputs inside the training range (shrunk by ``margin`` on each side)."""
    ranges = net.input_range()
    low, high = ranges[:, 0], ranges[:, 1]
    width = high - low
    rng = np.random.default_rng(seed)
    return low + width * (margin + (1 - 2 * margin) * rng.random((count, net.n_inputs)))


def _steps(net, relative_step):
    width = np.ptp(net.input_range(), axis=1)
    return relative_step * np.where(width > 0, width, 1.0)


def central_jacobian(function, X, steps):
    """(n_samples, n_out, n_in) derivatives of ``function``: (n, n_in) -> (n, ...) by central
    differences with one Richardson step (error O(h^4) instead of O(h^2))."""
    columns = []
    for k, h in progress.over(list(enumerate(steps)), "finite differences"):
        coarse, fine = _central(function, X, k, h), _central(function, X, k, h / 2)
        columns.append((4 * fine - coarse) / 3)
    return np.stack(columns, axis=-1)


def _central(function, X, k, h):
    plus, minus = X.copy(), X.copy()
    plus[:, k] += h
    minus[:, k] -= h
    return (function(plus) - function(minus)) / (2 * h)


def finite_difference_jacobian(net, X, relative_step=1e-4):
    """Jacobian by central differences of the direct numeric evaluation (see the module doc)."""
    return central_jacobian(lambda points: evaluate(net, points), X, _steps(net, relative_step))


def finite_difference_hessian(jacobian, net, X, relative_step=1e-4):
    """Hessian by central differences of an exact Jacobian function.

    Differencing a Jacobian (second differences of the values would lose half the
    digits) still checks the Hessian independently: the Jacobian is a different
    program (forward or reverse accumulation) from the Hessian (forward-over-reverse,
    with the transfer functions' second derivatives), and it is itself checked against
    differences of the direct evaluation first (``symnet check``, the tests).
    """
    return central_jacobian(jacobian, X, _steps(net, relative_step))


@dataclass(frozen=True)
class Comparison:
    max_abs_error: float
    max_rel_error: float

    def within(self, tolerance):
        return self.max_rel_error <= tolerance


def compare(actual, expected, floor=1e-4):
    """Errors of ``actual`` against ``expected`` (arrays of shape (n_samples, n_outputs, ...)).

    The relative error divides by the largest |expected| of the same sample and
    output, but never by less than ``floor`` times the largest |expected| of the
    sample: a row that is zero up to rounding (a saturated unit) does not turn
    an absolute error of 1e-20 into a relative error of 1.
    """
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    error = np.abs(actual - expected)
    row_axes = tuple(range(2, expected.ndim))
    sample_axes = tuple(range(1, expected.ndim))
    magnitude = np.abs(expected)
    row_scale = np.max(magnitude, axis=row_axes, keepdims=True) if row_axes else magnitude
    sample_scale = np.max(magnitude, axis=sample_axes, keepdims=True) if sample_axes else magnitude
    scale = np.maximum(np.maximum(row_scale, floor * sample_scale), np.finfo(float).tiny)
    return Comparison(float(np.max(error, initial=0.0)),
                      float(np.max(error / scale, initial=0.0)))
