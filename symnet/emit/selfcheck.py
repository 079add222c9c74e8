"""Test vectors shipped beside every generated file set.

A handful of raw inputs inside the training range, with the expected value,
gradient, Jacobian and Hessian computed at 30 significant digits straight
from the network (``symnet.reference.high_precision``): independent of the symbolic,
derive and simplify stages, of every printer and template, and of the
target's floating-point arithmetic.  Each
target writes these numbers into a small test program in its own language
that prints "all N checks passed" or the worst error and exits non-zero on
failure.

An error is measured relative to the entry's scale: the largest |expected|
of that entry over the test points, but never less than ``ROW_FLOOR`` times
the largest entry of its row (one output), so that an entry that happens to
be near zero at every point does not turn rounding into a failure.
"""

import functools
from dataclasses import dataclass

import numpy as np

from .. import progress
from ..reference.finite_differences import sample_points
from ..ir.derivative_spec import WHOLE, spec_of
from ..reference.directional import reference_values_with
from ..reference.expression import expression_references
from ..reference.high_precision import reference_values_of
from .common import FUNCTION_NAMES, DerivativeTable

POINT_COUNT = 5
#: A full Hessian of a wide network is checked at fewer points: its 30-digit reference carries
#: 1 + n + n(n+1)/2 numbers per point and input through every unit, in exact arithmetic, most
#: of the generation's time (20-256-256-10: 231 per point through 522 units, 2.3 s of 2.8 s
#: at 5 points).  The points are as many as keep points x numbers x units within
#: REFERENCE_BUDGET, but at least MIN_HESSIAN_POINTS (a full block of the batch check is
#: not needed: the check runs the batch function on every point, a short block included).
REFERENCE_BUDGET = 400_000
MIN_HESSIAN_POINTS = 3
POINT_SEED = 0
ROW_FLOOR = 1e-3

#: Largest accepted error (relative to the entry's scale) per precision and
#: derivative, 40x (double) and 4x to 13x (float) the worst measured on 40 random
#: networks (benchmarks/selfcheck_accuracy.py).  The float bounds cover the rounding
#: of every weight to float32 as well as float32 arithmetic, which each
#: differentiation amplifies; see docs/targets.md ("Self-check").
#: A derivative beyond the whole arrays has the tolerance of the whole array of its order.
TOLERANCE = {
    precision: DerivativeTable(bounds, lambda spec, bounds=bounds: bounds["hessian" if spec.order > 1 else "jacobian"])
    for precision, bounds in {
        "double": {"value": 1e-9, "gradient": 1e-9, "jacobian": 1e-9, "hessian": 1e-9},
        "float": {"value": 1e-4, "gradient": 2e-3, "jacobian": 2e-3, "hessian": 5e-2},
    }.items()
}
#: Seed of the check directions v and w (the extra arguments of jvp, vjp and hvp).
DIRECTION_SEED = 1


@dataclass(frozen=True, eq=False)
class CheckBlock:
    """Expected results of one derivative: ``expected`` has shape (points,) + shape."""

    what: str
    shape: tuple
    expected: np.ndarray
    scale: np.ndarray
    tolerance: float
    arguments: tuple = ()    # ((name, (points, size) array), ...): the extra arguments at each point

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=int))

    def expected_flat(self, order="C"):
        """Point-major, each point row-major (order "C"); or the column-major
        layout of an array of shape shape + (points,) (order "F", MATLAB)."""
        if order == "C":
            return tuple(float(v) for v in self.expected.reshape(-1))
        return tuple(float(v) for v in np.moveaxis(self.expected, 0, -1).reshape(-1, order="F"))

    def scale_flat(self, order="C"):
        return tuple(float(v) for v in self.scale.reshape(-1, order=order))


@dataclass(frozen=True, eq=False)
class CheckVectors:
    """``points`` (count, n_inputs): exact inputs (float32 values for precision "float")."""

    points: np.ndarray
    blocks: tuple
    precision: str

    @property
    def point_count(self):
        return int(self.points.shape[0])

    @property
    def value_count(self):
        """How many numbers the self-check compares."""
        return sum(block.size for block in self.blocks) * self.point_count

    def points_flat(self):
        """Inputs point-major: also the column-major layout of an n_inputs x points matrix."""
        return tuple(float(v) for v in self.points.reshape(-1))


def check_data(request, literals, order="C", precision="double"):
    """Template data of a self-check, the same in every language: the test points and, per
    derivative, the expected entries (flattened in ``order``: "F" for MATLAB's column-major
    layout), their scales and the tolerance, each number as the language writes it.

    Args:
        literals: ``literals(values, precision) -> [text, ...]``, the language's literals of
            a sequence of doubles (the points in ``precision``, the rest in double).
    """
    vectors = check_vectors(request, precision)
    blocks = [{"what": block.what,
               "function": FUNCTION_NAMES[block.what],
               "size": block.size,
               "expected": tuple(literals(block.expected_flat(order), "double")),
               "scale": tuple(literals(block.scale_flat(order), "double")),
               "tolerance": literals([block.tolerance], "double")[0],
               "arguments": [{"name": name, "size": int(values.shape[1]),
                              "values": tuple(literals(tuple(float(v) for v in values.reshape(-1)), precision))}
                             for name, values in block.arguments]}
              for block in vectors.blocks]
    return {"points": vectors.point_count,
            "x": tuple(literals(vectors.points_flat(), precision)),
            "blocks": blocks}


def repr_literals(values, precision="double"):
    """Python's shortest round-trip repr of each double: the literals of Python, NumPy and MATLAB."""
    return [repr(float(value)) for value in values]


def check_vectors(request, precision="double"):
    """The test vectors for ``request`` (cached: every target of one generation shares them)."""
    derivatives = tuple(request.derivatives) or tuple(what for what, _ in request.programs)
    # a user expression's name carries its spec: the cache tells two formulas of one name apart
    specs = tuple(getattr(what, "spec", None) for what in derivatives)
    return _check_vectors(request.network, derivatives, precision, specs)


def point_count(network, derivatives):
    """How many test points the self-check of ``derivatives`` has (see REFERENCE_BUDGET)."""
    if "hessian" not in derivatives:
        return POINT_COUNT
    n = network.n_inputs
    work = (1 + n + n * (n + 1) // 2) * (n + sum(layer.size for layer in network.layers))
    return max(MIN_HESSIAN_POINTS, min(POINT_COUNT, REFERENCE_BUDGET // work))


@functools.lru_cache(maxsize=8)
def _check_vectors(network, derivatives, precision, specs=()):
    specs = specs or (None,) * len(derivatives)
    points = sample_points(network, point_count(network, derivatives), seed=POINT_SEED)
    if precision == "float":
        points = points.astype(np.float32).astype(float)
    blocks = []
    parameters = tuple(dict.fromkeys(p for spec in specs if spec is not None for p in spec.parameters))
    arguments = check_arguments(network, len(points), precision, parameters)
    expressions = [what for what, spec in zip(derivatives, specs) if spec is not None]
    others = tuple(what for what, spec in zip(derivatives, specs) if spec is None)
    with progress.stage("self-check vectors"):
        if all(what in WHOLE for what in others):
            references = reference_values_of(network, others, points) if others else {}
        else:
            references = reference_values_with(network, others, points, arguments)
        for what in expressions:
            references[what] = expression_references(network, spec_of(what), points, arguments)
    for what in derivatives:
        expected = references[what]
        extra = tuple((name, arguments[name]) for name, _ in spec_of(what).extra_arguments)
        blocks.append(CheckBlock(what, expected.shape[1:], expected, entry_scale(what, expected),
                                 TOLERANCE[precision][what], extra))
    return CheckVectors(points, tuple(blocks), precision)


def check_arguments(network, count, precision="double", parameters=()):
    """{"v": (count, n_inputs), "w": (count, n_outputs)}: the directions the self-check passes
    to jvp, hvp and vjp, one per point, and {name: (count, size)} for each user expression's
    parameter (name, size), uniform in [-1, 1] (float32 values for "float")."""
    rng = np.random.default_rng(DIRECTION_SEED)
    arguments = {"v": rng.uniform(-1.0, 1.0, (count, network.n_inputs)),
                 "w": rng.uniform(-1.0, 1.0, (count, network.n_outputs))}
    for name, size in parameters:   # after v and w: their values do not depend on the parameters
        arguments[name] = rng.uniform(-1.0, 1.0, (count, size))
    if precision == "float":
        arguments = {name: values.astype(np.float32).astype(float) for name, values in arguments.items()}
    return arguments


def entry_scale(what, expected):
    """Per-entry scale (the derivative's shape) that errors are divided by."""
    shape = expected.shape[1:]
    magnitude = np.abs(expected).max(axis=0)
    whole = what in ("gradient", "vjp") or spec_of(what).kind == "expression"   # one row: one number's derivatives
    rows = magnitude.reshape((1 if whole else shape[0]), -1)
    scale = np.maximum(rows, ROW_FLOOR * rows.max(axis=1, keepdims=True))
    fallback = magnitude.max() if magnitude.size and magnitude.max() > 0 else 1.0
    return np.where(scale > 0, scale, fallback).reshape(shape)
