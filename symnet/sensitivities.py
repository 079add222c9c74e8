"""How strongly each raw output responds to each raw input: the exact Jacobian at
many points, summarized per output and input.

The scaled columns multiply dy/dx by the width of the input's training range
(``Network.input_range``): units of the output per full range of the input, so
that inputs measured on very different scales can be ranked against each other.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .api import derive
from .reference.finite_differences import sample_points

#: Points drawn in the training range when no data are given.
DEFAULT_POINTS = 200


@dataclass(frozen=True, eq=False)
class Sensitivity:
    """The Jacobian of a network at ``points`` and its summaries.

    Attributes:
        points: (n_points, n_inputs) raw inputs.
        jacobian: (n_points, n_outputs, n_inputs), jacobian[s, i, k] = dy_i/dx_k at points[s].
        input_range: (n_inputs, 2) training range of each raw input.
        input_names, output_names: one name per raw element (``XYZ[0]`` for element 0 of input XYZ).
    """

    points: np.ndarray
    jacobian: np.ndarray
    input_range: np.ndarray
    input_names: tuple
    output_names: tuple

    @property
    def range_width(self):
        """(n_inputs,) width of each input's training range."""
        return self.input_range[:, 1] - self.input_range[:, 0]

    @cached_property
    def mean_abs(self):
        """(n_outputs, n_inputs) mean of |dy_i/dx_k| over the points."""
        return np.mean(np.abs(self.jacobian), axis=0)

    @cached_property
    def mean(self):
        """(n_outputs, n_inputs) mean of dy_i/dx_k over the points (signs may cancel)."""
        return np.mean(self.jacobian, axis=0)

    @property
    def scaled_mean_abs(self):
        """mean |dy_i/dx_k| times the width of input k's range: output units per full input range."""
        return self.mean_abs * self.range_width

    @property
    def scaled_mean(self):
        """mean dy_i/dx_k times the width of input k's range."""
        return self.mean * self.range_width

    @property
    def median_point(self):
        """(n_inputs,) element-wise median of the points: where partial-dependence slices pass."""
        return np.median(self.points, axis=0)


def sensitivity(net, X=None, points=DEFAULT_POINTS, seed=0):
    """The exact Jacobian of ``net`` at ``X`` (or at ``points`` random points of its training range).

    Args:
        net: a Network.
        X: (n_points, n_inputs) raw inputs, or None to sample the training range
            (``symnet.reference.finite_differences.sample_points`` with ``seed``).
        points: how many points to sample when ``X`` is None.
        seed: seed of that sample.
    Returns:
        Sensitivity: the points, the Jacobian and its summaries per output and input.
    """
    X = sample_points(net, points, seed=seed) if X is None else np.asarray(X, dtype=float)
    return Sensitivity(points=X, jacobian=derive(net, "jacobian")(X), input_range=net.input_range(),
                       input_names=input_names(net), output_names=output_names(net))


def input_names(net):
    """One name per raw input element: ``XYZ[0]`` for element 0 of input XYZ, ``T`` for a scalar input T."""
    return _element_names(net.inputs, "x", lambda item: item.size)


def output_names(net):
    """One name per raw output element, as ``input_names``."""
    return _element_names(net.outputs, "y", net.output_size)


def _element_names(items, fallback, size_of):
    """One name per raw element: an item's name alone when it has one element, else with its index."""
    names = []
    for number, item in enumerate(items, start=1):
        name = item.name or f"{fallback}{number}"
        size = size_of(item)
        names.extend([name] if size == 1 else [f"{name}[{k}]" for k in range(size)])
    return tuple(names)


# --- the table ------------------------------------------------------------------

_COLUMNS = ("output", "input", "mean |dy/dx|", "mean dy/dx", "range width",
            "mean |dy/dx|*range", "mean dy/dx*range")


def table_lines(result, clean=str):
    """The summary as aligned text lines, one row per output and input; ``clean`` makes names safe."""
    rows = []
    for i, output in enumerate(result.output_names):
        for k, name in enumerate(result.input_names):
            numbers = (result.mean_abs[i, k], result.mean[i, k], result.range_width[k],
                       result.scaled_mean_abs[i, k], result.scaled_mean[i, k])
            rows.append((clean(output), clean(name)) + tuple(f"{value:.6g}" for value in numbers))
    widths = [max(len(row[c]) for row in rows + [_COLUMNS]) for c in range(len(_COLUMNS))]
    return [_aligned(row, widths) for row in [_COLUMNS] + rows]


def _aligned(cells, widths):
    names = [cell.ljust(width) for cell, width in zip(cells[:2], widths)]
    numbers = [cell.rjust(width) for cell, width in zip(cells[2:], widths[2:])]
    return "  ".join(names + numbers).rstrip()
