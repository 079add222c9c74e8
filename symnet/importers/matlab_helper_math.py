"""The two kinds of numbers a genFunction helper is run on: exact reals (sympy) and doubles (numpy).

matlab_helper_run interprets a helper's body once over each: over sympy
symbols, to prove its maths equal to the function it claims; over test
doubles, to see what MATLAB's own floating point makes of it (overflow to
inf, 0/0) at large |n|. Every value is a 2-D array, as in MATLAB.

Over the reals nothing is NaN or infinite unless the file writes nan or
inf, so ``isnan(n)`` is false there: the fix-ups MATLAB writes for NaN
inputs (``a(isnan(n)) = nan``) change nothing, and those for overflow
(``a(~isfinite(a)) = sign(n)``) are judged by the run over doubles.
"""

import math
from dataclasses import dataclass

import numpy as np
import scipy.special
import sympy as sp

from ..errors import UnsupportedError
from ..ir.expression_text import MAX_EXPONENT


@dataclass(frozen=True, eq=False)
class Logical:
    """A logical array (a comparison, isnan, ...), which may index another array."""
    array: np.ndarray


@dataclass(frozen=True, eq=False)
class Masked:
    """``a(mask)``: the elements of ``values`` where ``mask`` holds, kept at full size."""
    values: np.ndarray
    mask: Logical


_RELATIONS = {"==": sp.Eq, "~=": sp.Ne, "!=": sp.Ne, "<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge}
_NUMPY_RELATIONS = {"==": np.equal, "~=": np.not_equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
                    ">": np.greater, ">=": np.greater_equal}


def _max(*args):
    # Not simplified when built: sympy's pairwise search for the largest argument is slow,
    # and the proof does not need it (a softmax's shift cancels whatever it is).
    return sp.Max(*args, evaluate=False) if len(set(args)) > 1 else args[0]


def _min(*args):
    return sp.Min(*args, evaluate=False) if len(set(args)) > 1 else args[0]


def _power(base, exponent):
    # An exact power of a number (2^1e300) or a power to expand later could take sympy for ever.
    if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
        raise UnsupportedError(f"an exponent larger than {MAX_EXPONENT} is not read")
    return base ** exponent


class ExactMath:
    """Real numbers as sympy expressions, each literal as the exact rational of its double."""

    exact = True
    functions = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh, "sinh": sp.sinh,
                 "cosh": sp.cosh, "abs": sp.Abs, "sign": sp.sign, "erf": sp.erf, "max": _max, "min": _min,
                 "power": _power}
    nan, inf = sp.nan, sp.oo

    def __init__(self):
        self.flags = []

    def number(self, value):
        value = float(value)
        if math.isnan(value):
            return sp.nan
        return sp.Rational(value) if math.isfinite(value) else sp.oo if value > 0 else -sp.oo

    def array(self, values):
        return np.vectorize(self.number, otypes=[object])(np.asarray(values, dtype=float)).reshape(
            np.shape(values))

    def full(self, shape, value):
        return np.full(shape, value, dtype=object)

    def apply(self, function, *arrays):
        return np.vectorize(function, otypes=[object])(*arrays)

    def relation(self, op, left, right):
        return Logical(self.apply(_RELATIONS[op], left, right))

    def logic(self, op, left, right=None):
        if op == "~":
            return Logical(self.apply(sp.Not, left.array))
        return Logical(self.apply(sp.And if op == "&" else sp.Or, left.array, right.array))

    def as_numbers(self, logical):
        return self.apply(lambda c: sp.Piecewise((1, c), (0, True)), logical.array)

    def isnan(self, array):
        return Logical(self.apply(lambda e: sp.true if e is sp.nan else sp.false, array))

    def isinf(self, array):
        return Logical(self.apply(lambda e: sp.true if e in (sp.oo, -sp.oo, sp.zoo) else sp.false, array))

    def reduce(self, what, array, axis):
        combine = {"max": _max, "min": _min, "sum": sp.Add}[what]
        columns = array if axis == 0 else array.T
        result = np.array([[combine(*columns[:, k]) for k in range(columns.shape[1])]], dtype=object)
        return result if axis == 0 else result.T

    def where(self, mask, new, old):
        def pick(condition, a, b):
            if condition is True or condition is sp.true:
                return a
            if condition is False or condition is sp.false:
                return b
            return sp.Piecewise((a, condition), (b, True))
        return self.apply(pick, mask.array, new, old)

    def truth(self, logical):
        """True or False where every element says so, else the one undecided condition (or refuse)."""
        values = list(logical.array.reshape(-1))
        if values and all(v is True or v is sp.true for v in values):
            return True
        if not values or any(v is False or v is sp.false for v in values):
            return False
        if len(values) == 1:
            return values[0]
        raise UnsupportedError("a condition on a whole array is not read")

    def flag(self, what):
        """A condition the file tests but the maths cannot decide (isa(n,'gpuArray')): both ways are checked."""
        symbol = sp.Symbol(f"{what}{len(self.flags)}")
        self.flags.append(symbol)
        return Logical(np.array([[symbol]], dtype=object))


class DoubleMath:
    """IEEE doubles with numpy, as MATLAB computes them (max and min skip NaN, as MATLAB's do)."""

    exact = False
    functions = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh, "sinh": np.sinh,
                 "cosh": np.cosh, "abs": np.abs, "sign": np.sign, "erf": scipy.special.erf, "max": np.fmax,
                 "min": np.fmin, "power": np.power}
    nan, inf = math.nan, math.inf

    def number(self, value):
        return float(value)

    def array(self, values):
        return np.array(values, dtype=float).reshape(np.shape(values))

    def full(self, shape, value):
        return np.full(shape, float(value))

    def apply(self, function, *arrays):
        with np.errstate(all="ignore"):
            return np.asarray(function(*(np.asarray(a, dtype=float) for a in arrays)), dtype=float)

    def relation(self, op, left, right):
        return Logical(_NUMPY_RELATIONS[op](np.asarray(left, dtype=float), np.asarray(right, dtype=float)))

    def logic(self, op, left, right=None):
        if op == "~":
            return Logical(~left.array)
        return Logical((np.logical_and if op == "&" else np.logical_or)(left.array, right.array))

    def as_numbers(self, logical):
        return logical.array.astype(float)

    def isnan(self, array):
        return Logical(np.isnan(np.asarray(array, dtype=float)))

    def isinf(self, array):
        return Logical(np.isinf(np.asarray(array, dtype=float)))

    def reduce(self, what, array, axis):
        combine = {"max": np.fmax.reduce, "min": np.fmin.reduce, "sum": np.sum}[what]
        with np.errstate(all="ignore"):
            return np.expand_dims(combine(np.asarray(array, dtype=float), axis=axis), axis)

    def where(self, mask, new, old):
        return np.where(mask.array, new, old).astype(float)

    def truth(self, logical):
        return bool(logical.array.size) and bool(np.all(logical.array))

    def flag(self, what):
        return Logical(np.zeros((1, 1), dtype=bool))     # doubles on the CPU: isa(n,'gpuArray') is false
