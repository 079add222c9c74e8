"""Exact arithmetic for the high-precision reference (symnet.reference.high_precision).

Between transfer functions a network is linear, and linear maps of binary
numbers can be computed exactly with integers.  Two representations:

``Dyadic``: an array of numbers mantissa * 2**exponent (Python integers and
an int64 array of exponents), on which products and sums are exact.  The
chain rule through a transfer function uses it: every derivative component
is multiplied by f'(n) and f''(n) (mpmath numbers, rounded once when they
were evaluated) without another rounding.

Fixed-point columns, for b + sum W·a over a whole layer: every weight row
(bias included) becomes integers on one exponent, exactly (a double is an
integer mantissa times a power of two); every column of the right-hand side
(one derivative component at one point, over the source units) becomes
integers on one exponent, exactly unless the column spans more than the
working precision plus ``GUARD_BITS`` bits (then its smallest entries are
rounded at that many bits below its largest).  Python integers multiply one
at a time; to keep the Python-level operations at units x sources rather
than units x sources x columns, each row of the right-hand side is packed
into one large integer (Kronecker substitution: column c in bits
[c*width, (c+1)*width)) and the exact sums are unpacked afterwards.  Where the
weights of a row span at most MAX_LIMB_WEIGHT_BITS bits (a trained network's rows span far fewer),
``limb_products`` computes the same sums faster, by 16-bit limbs in floating-point
matrix products.  Reverse mode (symnet.reference.high_precision_reverse) carries adjoints back
through the transposed weights the same way (``transposed_affine``).
"""

from functools import lru_cache
from operator import mul

import mpmath
import numpy as np

#: Bits kept below the working precision when a column is put on one exponent.
GUARD_BITS = 64
#: Bits per limb of ``limb_products``: 16, so that the limb sums are carried into whole
#: bytes; a limb product sums to below 2**53 over fewer than MAX_LIMB_SOURCES sources.
LIMB_BITS = 16
MAX_LIMB_SOURCES = 1 << (53 - 2 * LIMB_BITS)
#: Rows whose weights span more bits than this use the packed integers instead.
MAX_LIMB_WEIGHT_BITS = 512


class Dyadic:
    """An array of exact binary numbers: ``mantissas`` (object array of Python ints) times
    2 ** ``exponents`` (int64 array of the same shape).  Products, sums and numpy
    indexing as for arrays, all exact."""

    __slots__ = ("mantissas", "exponents")

    def __init__(self, mantissas, exponents):
        self.mantissas, self.exponents = mantissas, np.asarray(exponents, dtype=np.int64)

    @classmethod
    def from_mpf(cls, values):
        """Exactly the mpf numbers of an object array."""
        values = np.asarray(values, dtype=object)
        parts = [mpf_parts(x) for x in values.reshape(-1)]
        mantissas = np.empty(len(parts), dtype=object)
        mantissas[:] = [m for m, _ in parts]
        exponents = np.array([e for _, e in parts], dtype=np.int64)
        return cls(mantissas.reshape(values.shape), exponents.reshape(values.shape))

    def to_mpf(self):
        """The numbers rounded to the working precision (an object array of mpf)."""
        flat = [mpmath.mpf((int(m), int(e))) for m, e in zip(self.mantissas.reshape(-1), self.exponents.reshape(-1))]
        result = np.empty(len(flat), dtype=object)
        result[:] = flat
        return result.reshape(self.mantissas.shape)

    @property
    def shape(self):
        return self.mantissas.shape

    def __getitem__(self, index):
        return Dyadic(self.mantissas[index], self.exponents[index])

    def reshape(self, *shape):
        return Dyadic(self.mantissas.reshape(*shape), self.exponents.reshape(*shape))

    def __mul__(self, other):
        return Dyadic(self.mantissas * other.mantissas, self.exponents + other.exponents)

    def __add__(self, other):
        """Both terms shifted to the smaller exponent: exact."""
        exponents = np.minimum(self.exponents, other.exponents)
        return Dyadic((self.mantissas << (self.exponents - exponents).astype(object))
                      + (other.mantissas << (other.exponents - exponents).astype(object)), exponents)

    @staticmethod
    def concatenate(arrays, axis):
        return Dyadic(np.concatenate([a.mantissas for a in arrays], axis=axis),
                      np.concatenate([a.exponents for a in arrays], axis=axis))


def mpf_parts(x):
    """(signed mantissa, exponent) of an mpf: x == mantissa * 2**exponent."""
    sign, mantissa, exponent, _ = x._mpf_
    if not mantissa and exponent:    # mpmath's inf and nan: no binary number stands for them
        raise ArithmeticError(f"the high-precision evaluation met {x}")
    return (-mantissa if sign else mantissa), exponent


@lru_cache(maxsize=32)
def weight_parts(layer):
    """The rows [W_1 | W_2 | ... | bias] of ``layer`` (sources in the order input_weights,
    layer_weights, as ``affine`` expects them) as ``matrix_parts`` has them."""
    blocks = _weight_blocks(layer)
    return matrix_parts(np.hstack(blocks + [np.asarray(layer.bias, dtype=float).reshape(-1, 1)]))


@lru_cache(maxsize=32)
def transposed_weight_parts(layer):
    """The rows of [W_1 | W_2 | ...]^T of ``layer`` (no bias) as ``matrix_parts`` has them:
    row s holds the weights leaving source unit s, for ``transposed_affine``."""
    blocks = _weight_blocks(layer)
    # contiguous: the limbs of a transposed view took twice as long (strided access)
    return matrix_parts(np.ascontiguousarray(np.hstack(blocks).T) if blocks else np.zeros((0, layer.size)))


def _weight_blocks(layer):
    return [np.asarray(w, dtype=float) for _, w in layer.input_weights + layer.layer_weights]


def matrix_parts(matrix):
    """The rows of a float matrix as (mantissas, shifts, exponents, bits): entry (j, s) is
    mantissas[j, s] * 2**(shifts[j, s] + exponents[j]) exactly (int64 arrays: a double's
    53-bit significand, its shift above the row's smallest exponent), and ``bits`` the
    largest bit length of mantissa << shift.  Computed with numpy: a network of 5.3M
    weights takes 6 s one weight at a time."""
    fractions, powers = np.frexp(matrix)
    mantissas = np.ldexp(fractions, 53).astype(np.int64)    # exact, subnormals included
    powers = powers.astype(np.int64) - 53
    nonzero = mantissas != 0
    exponents = np.where(nonzero, powers, np.iinfo(np.int64).max).min(axis=1, initial=np.iinfo(np.int64).max)
    exponents = np.where(nonzero.any(axis=1), exponents, 0)
    shifts = np.where(nonzero, powers - exponents[:, None], 0)
    lengths = np.where(nonzero, np.frexp(np.abs(mantissas).astype(float))[1] + shifts, 0)
    return mantissas, shifts, exponents, int(lengths.max(initial=0))


def weight_rows(layer):
    """The rows of ``weight_parts`` as (integer rows, row exponents), exactly: row j is
    ints[j] * 2**exponents[j]."""
    return integer_rows(weight_parts(layer))


def integer_rows(parts):
    """The rows of ``matrix_parts`` as (integer rows, row exponents), exactly."""
    mantissas, shifts, exponents, _ = parts
    return (mantissas.astype(object) << shifts.astype(object)).tolist(), exponents.tolist()


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
    """b + sum W·a of ``layer`` for every column: ``columns`` is a Dyadic (source units,
    columns), the units of all sources stacked in the order of ``weight_parts`` and, last,
    the constant 1 the bias multiplies (0 in derivative columns).  Returns the exact
    sums as a Dyadic (layer.size, columns)."""
    return matrix_products(weight_parts(layer), columns)


def transposed_affine(layer, columns):
    """W^T·v of ``layer`` for every column, the map reverse mode carries adjoints back by:
    ``columns`` is a Dyadic (layer.size, columns); returns the exact sums as a Dyadic
    (source units, columns), the units of all sources stacked in the order of
    ``transposed_weight_parts`` (the bias takes no part)."""
    return matrix_products(transposed_weight_parts(layer), columns)


def matrix_products(parts, columns):
    """The exact products of the rows of ``matrix_parts`` and a 2-D Dyadic ``columns``
    (put on one exponent per column by ``to_fixed_columns``): a Dyadic (rows, columns),
    by limbs in floating point (``limb_products``) unless the rows span too many binary
    orders of magnitude or are too long."""
    mantissas, shifts, row_exponents, weight_bits = parts
    ints, column_exponents = to_fixed_columns(columns)
    units, sources = mantissas.shape
    if sources < MAX_LIMB_SOURCES and weight_bits <= MAX_LIMB_WEIGHT_BITS:
        sums = limb_products(mantissas, shifts, weight_bits, ints)
    else:
        sums = np.empty((units, len(column_exponents)), dtype=object)
        sums[...] = exact_products(integer_rows(parts)[0], ints)
    return Dyadic(sums, np.add.outer(row_exponents, column_exponents))


def to_fixed_columns(values):
    """(ints, exponents) for a 2-D Dyadic: ints[k][c] * 2**exponents[c] is values[k, c],
    exact unless the column spans more than the working precision plus GUARD_BITS
    (then rounded at that many bits below its largest entry)."""
    keep = mpmath.mp.prec + GUARD_BITS
    ints, exponents = [], []
    for mantissas, column_exponents in zip(values.mantissas.T, values.exponents.T):
        parts = list(zip(mantissas.tolist(), column_exponents.tolist()))
        top = max((e + abs(m).bit_length() for m, e in parts if m), default=0)
        column_ints, exponent = _common_exponent(parts, floor=top - keep)
        ints.append(column_ints)
        exponents.append(exponent)
    return [list(row) for row in zip(*ints)], exponents


def exact_products(rows, columns):
    """The integer matrix product rows x columns (lists of lists of ints), exactly."""
    size = _slot_bytes(max((abs(w).bit_length() for row in rows for w in row), default=0), columns)
    count = len(columns[0]) if columns else 0
    packed = [_pack(row, size) for row in columns]
    offset = _pack([1 << (8 * size - 1)] * count, size)
    return [_unpack(sum(map(mul, row, packed)), size, count, offset) for row in rows]


def _slot_bytes(weight_bits, columns):
    """Bytes per packed slot: room for any sum of len(columns) products of a weight of
    ``weight_bits`` bits and a column entry, with its sign."""
    largest_value = max((abs(v).bit_length() for row in columns for v in row), default=0)
    return (weight_bits + largest_value + max(len(columns), 1).bit_length() + 1 + 7) // 8


def limb_products(mantissas, shifts, weight_bits, columns):
    """The exact products as in ``exact_products`` of the rows of ``matrix_parts`` and
    integer ``columns``, as a (units, columns) object array, through floating-point
    matrix products: both sides split into signed LIMB_BITS-bit limbs, every product
    of a weight limb matrix and a column limb matrix is an exact integer in a double
    (below 2**53 for fewer than 2**(53 - 2*LIMB_BITS) sources), and the limb sums are
    carried into whole numbers in int64.  On a 512x512 layer with 15 columns (a deep
    tanh network's Jacobian at 5 points) the packed integers of ``exact_products`` took
    0.7-1.6 s and this 0.2-0.4 s, on a loaded 2-core machine."""
    weight_limbs = _weight_limbs(mantissas, shifts, max(1, -(-weight_bits // LIMB_BITS)))
    column_limbs = _column_limbs(columns)
    units, (count_limbs, _, count) = mantissas.shape[0], column_limbs.shape
    products = (weight_limbs @ np.hstack(column_limbs)).astype(np.int64)   # one product: one BLAS call
    products = products.reshape(-1, units, count_limbs, count)
    sums = np.zeros((len(products) + count_limbs, units, count), dtype=np.int64)
    for a, rows in enumerate(products):
        for b in range(count_limbs):
            sums[a + b] += rows[:, b]
    return _whole_numbers(sums)


def _weight_limbs(mantissas, shifts, count):
    """(count * units, sources) float64: the signed LIMB_BITS-bit limbs of |mantissas| << shifts,
    limb by limb.  |m| << (shift % 16) has five limbs (|m| < 2**53), computed in uint64 and
    put in place at limb shift // 16."""
    units, sources = mantissas.shape
    magnitudes = np.abs(mantissas).astype(np.uint64)
    within = (shifts % LIMB_BITS).astype(np.uint64)
    mask = np.uint64((1 << LIMB_BITS) - 1)
    local = [(magnitudes << within) & mask]
    local += [(magnitudes >> (np.uint64(LIMB_BITS * i) - within)) & mask for i in range(1, 5)]
    limbs = np.zeros((count + 4, units, sources))
    first = (shifts // LIMB_BITS)[None]
    negative = mantissas < 0
    for i, part in enumerate(local):
        part = part.astype(np.float64)
        np.negative(part, out=part, where=negative)
        np.put_along_axis(limbs, first + i, part[None], axis=0)
    return limbs[:count].reshape(count * units, sources)


def _column_limbs(columns):
    """(limbs, sources, columns) float64: the signed LIMB_BITS-bit limbs of integer ``columns``."""
    values = [v for row in columns for v in row]
    size = max(1, (max((abs(v).bit_length() for v in values), default=0) + 15) // 16) * 2
    data = b"".join(abs(v).to_bytes(size, "little") for v in values)
    limbs = np.frombuffer(data, dtype="<u2").reshape(len(columns), -1, size // 2).astype(np.float64)
    signs = np.array([-1.0 if v < 0 else 1.0 for v in values]).reshape(len(columns), -1, 1)
    return np.moveaxis(limbs * signs, -1, 0)


def _whole_numbers(sums):
    """The integers sum over d of sums[d] * 2**(LIMB_BITS*d) (int64 limbs, any sign) as an
    object array: the limbs carried into digits (numpy), each number read from its bytes."""
    digits = np.empty(sums.shape, dtype="<u2")
    carry = np.zeros(sums.shape[1:], dtype=np.int64)
    for d in range(len(sums)):
        total = sums[d] + carry
        digits[d] = total & ((1 << LIMB_BITS) - 1)
        carry = total >> LIMB_BITS
    width = 2 * len(sums)
    data = np.ascontiguousarray(np.moveaxis(digits, 0, -1)).tobytes()
    top = LIMB_BITS * len(sums)
    numbers = [int.from_bytes(data[i * width:(i + 1) * width], "little") + (c << top)
               for i, c in enumerate(carry.reshape(-1).tolist())]
    result = np.empty(len(numbers), dtype=object)
    result[:] = numbers
    return result.reshape(sums.shape[1:])


def _pack(values, size):
    """sum of values[c] * 256**(c*size): the columns side by side in one integer, built from
    the bytes of the positive and of the negative entries (linear time)."""
    positive = b"".join(max(v, 0).to_bytes(size, "little") for v in values)
    negative = b"".join(max(-v, 0).to_bytes(size, "little") for v in values)
    return int.from_bytes(positive, "little") - int.from_bytes(negative, "little")


def _unpack(total, size, count, offset):
    """The ``count`` signed slots of ``total``, each of magnitude below 2**(8*size - 1):
    ``offset`` (half of every slot's range) makes every slot non-negative, so that the
    slots are the bytes of the sum."""
    half = 1 << (8 * size - 1)
    data = (total + offset).to_bytes(size * count, "little")
    return [int.from_bytes(data[c * size:(c + 1) * size], "little") - half for c in range(count)]
