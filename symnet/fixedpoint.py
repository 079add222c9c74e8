"""Exact affine maps for the high-precision reference (symnet.highprecision).

A layer's net input b + sum W·a is evaluated for every unit, every point and
every derivative component at once, in integer arithmetic:

  * each weight row (bias included) becomes integers with one binary exponent
    per row, exactly: a double is an integer mantissa times a power of two;
  * each column of the right-hand side (one derivative component at one
    point, over the source units) becomes integers with one exponent per
    column, exactly unless the column spans more than ``GUARD_BITS`` bits
    beyond the working precision, in which case its smallest entries are
    rounded at that many bits below its largest (far below what the working
    precision resolves);
  * the integer products are exact, so every net input is rounded once, when
    it is turned back into an mpmath number.

Python integers multiply one at a time; to keep the count of Python-level
operations at units x sources rather than units x sources x columns, every
row of the right-hand side is packed into one large integer (Kronecker
substitution: column c in bits [c*width, (c+1)*width)), and the sums are
unpacked afterwards.
"""

from functools import lru_cache
from operator import mul

import mpmath
import numpy as np

#: Bits kept below the working precision when a column is put on one exponent.
GUARD_BITS = 64


@lru_cache(maxsize=32)
def weight_rows(layer):
    """The rows [W_1 | W_2 | ... | bias] of ``layer`` as (integer rows, row exponents),
    exactly: row j is ints[j] * 2**exponents[j]; sources in the order input_weights,
    layer_weights, as ``affine`` expects them."""
    blocks = [w for _, w in layer.input_weights] + [w for _, w in layer.layer_weights]
    matrix = np.hstack(blocks + [np.asarray(layer.bias, dtype=float).reshape(-1, 1)])
    rows, exponents = [], []
    for row in matrix.tolist():
        ints, exponent = _common_exponent([_double_parts(w) for w in row])
        rows.append(ints)
        exponents.append(exponent)
    return rows, exponents


def _double_parts(value):
    """(mantissa, exponent) with value == mantissa * 2**exponent exactly."""
    numerator, denominator = float(value).as_integer_ratio()
    return numerator, 1 - denominator.bit_length()


def _common_exponent(parts, floor=None):
    """Integers sharing the smallest exponent of ``parts`` ((mantissa, exponent), ...),
    but none below ``floor``: parts below it are rounded to the nearest multiple."""
    exponents = [e for m, e in parts if m]
    if not exponents:
        return [0] * len(parts), 0
    common = min(exponents) if floor is None else max(min(exponents), floor)
    return [_shifted(m, e - common) for m, e in parts], common


def _shifted(mantissa, shift):
    """mantissa * 2**shift, rounded to the nearest integer (halves upward) when shift < 0."""
    if shift >= 0:
        return mantissa << shift
    return (mantissa + (1 << (-shift - 1))) >> -shift


def affine(layer, columns):
    """b + sum W·a of ``layer`` for every column: ``columns`` (source units, columns) holds
    mpf numbers, the units of all sources stacked in the order of ``weight_rows`` and,
    last, the constant 1 the bias multiplies (0 in derivative columns).  Returns
    (layer.size, columns) mpf numbers, each the exact sum rounded once."""
    rows, row_exponents = weight_rows(layer)
    ints, column_exponents = to_fixed_columns(columns)
    sums = exact_products(rows, ints)
    return np.array([[mpmath.mpf((total, re + ce)) for total, ce in zip(row, column_exponents)]
                     for row, re in zip(sums, row_exponents)], dtype=object)


def to_fixed_columns(values):
    """(ints, exponents) for a 2-D array of mpf numbers: ints[k][c] * 2**exponents[c]
    is values[k, c], exact unless the column spans more than the working precision
    plus GUARD_BITS (then rounded at that many bits below its largest entry)."""
    keep = mpmath.mp.prec + GUARD_BITS
    ints, exponents = [], []
    for column in values.T:
        parts = [_mpf_parts(x) for x in column]
        top = max((e + abs(m).bit_length() for m, e in parts if m), default=0)
        column_ints, exponent = _common_exponent(parts, floor=top - keep)
        ints.append(column_ints)
        exponents.append(exponent)
    return [list(row) for row in zip(*ints)], exponents


def _mpf_parts(x):
    """(signed mantissa, exponent) of an mpf: x == mantissa * 2**exponent."""
    sign, mantissa, exponent, _ = x._mpf_
    return (-mantissa if sign else mantissa), exponent


def exact_products(rows, columns):
    """The integer matrix product rows x columns (lists of lists of ints), exactly."""
    width = _slot_width(rows, columns)
    packed = [_pack(row, width) for row in columns]
    count = len(columns[0]) if columns else 0
    return [_unpack(sum(map(mul, row, packed)), width, count) for row in rows]


def _slot_width(rows, columns):
    """Bits per packed column: room for any sum of len(columns) products, with its sign."""
    largest_weight = max((abs(w).bit_length() for row in rows for w in row), default=0)
    largest_value = max((abs(v).bit_length() for row in columns for v in row), default=0)
    return largest_weight + largest_value + max(len(columns), 1).bit_length() + 1


def _pack(values, width):
    """sum of values[c] * 2**(c*width): the row's columns side by side in one integer."""
    total = 0
    for value in reversed(values):
        total = (total << width) + value
    return total


def _unpack(total, width, count):
    """The ``count`` signed slots of ``total``, each of magnitude below 2**(width - 1)."""
    mask, half = (1 << width) - 1, 1 << (width - 1)
    values = []
    for _ in range(count):
        slot = total & mask
        if slot >= half:
            slot -= 1 << width
        values.append(slot)
        total = (total - slot) >> width
    return values
