"""Exact C floating literals in their shortest form.

A double is written as the shortest decimal that reads back as the same double
(Python's repr) or, where shorter, as a C99 hexadecimal float (0x1p-20 for
9.5367431640625e-07); a float as the shortest decimal that reads back as the
same float32 (numpy's), or its hexadecimal form, with the ``f`` suffix.  Big
networks make the literals most of a source file, so whole arrays are printed at
once (``repr`` over a list, about 1.2 µs a number; one value at a time through numpy
scalars took about 3 µs).
"""

import numpy as np

from ...errors import UnsupportedError

#: Largest finite float32: a larger magnitude has no float literal.
FLOAT_MAX = float(np.finfo(np.float32).max)


def hex_literal(value):
    """The shortest C99 hexadecimal form of the finite nonzero double ``value``:
    a leading 1 (subnormals too), no trailing zero digits, no '+' in the exponent."""
    numerator, denominator = abs(value).as_integer_ratio()   # exact: denominator a power of two
    bits = numerator.bit_length()
    fraction = numerator - (1 << (bits - 1))
    digits = (bits + 2) // 4                                  # hex digits for bits - 1 fraction bits
    exponent = bits - denominator.bit_length()
    text = f".{fraction << (4 * digits - bits + 1):0{digits}x}".rstrip("0").rstrip(".") if digits else ""
    return f"{'-' if value < 0 else ''}0x1{text}p{exponent}"


def _decimal_texts(values, precision):
    if precision == "float":
        return values.astype(np.float32).astype(str).tolist()
    return list(map(repr, values.tolist()))


def _hex_lengths(values):
    """The length of ``hex_literal`` of each value (zeros: a length no decimal exceeds)."""
    magnitudes = np.abs(values)
    _, powers = np.frexp(magnitudes)
    significand = np.ldexp(magnitudes, 53 - powers).astype(np.int64)   # exact for every double
    significand[significand == 0] = 1
    trailing = np.log2(significand & -significand).astype(np.int64)
    fraction_digits = (53 - trailing - 1 + 3) // 4
    exponents = np.abs(powers - 1)
    exponent_length = (powers < 1) + 1 + (exponents >= 10) + (exponents >= 100) + (exponents >= 1000)
    lengths = (values < 0) + 4 + np.where(fraction_digits > 0, fraction_digits + 1, 0) + exponent_length
    return np.where(values == 0, 1 << 20, lengths)


def c_literals(values, precision="double"):
    """The C literals of a float array (any shape, read in C order): exactly each double,
    or exactly the float32 nearest to each value with the ``f`` suffix.

    Raises:
        ValueError: a value that is not finite.
        UnsupportedError: (float) a value outside the float32 range.
    """
    values = np.asarray(values, dtype=float).reshape(-1)
    if not np.isfinite(values).all():
        raise ValueError(f"no C literal for {values[~np.isfinite(values)][0]!r}")
    if precision == "float":
        if (np.abs(values) > FLOAT_MAX).any():
            raise UnsupportedError(f"the constant {float(values[np.abs(values) > FLOAT_MAX][0])!r} of the generated"
                                   f" code does not fit a float; use --precision double")
        values = values.astype(np.float32).astype(float)
    texts = _decimal_texts(values, precision)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    for index in np.flatnonzero(_hex_lengths(values) < lengths).tolist():
        texts[index] = hex_literal(float(values[index]))
    if precision == "float":
        return [text + "f" for text in texts]
    return texts


def array_literal(values, precision="double"):
    """The initializer of a C array of ``values``: one brace level per axis, each row of
    the last axis on one line, its numbers separated by a comma alone (a big network's
    source is mostly these)."""
    values = np.asarray(values, dtype=float)
    texts = c_literals(values, precision)
    if values.ndim == 0:
        return texts[0]
    width = values.shape[-1]
    rows = ["{" + ",".join(texts[start:start + width]) + "}" for start in range(0, len(texts), width)]
    for size in reversed(values.shape[:-1]):
        rows = ["{\n" + ",\n".join(rows[i:i + size]) + "\n}" for i in range(0, len(rows), size)]
    return rows[0]


def c_literal(value, precision="double"):
    """One C literal: see ``c_literals``."""
    return c_literals([value], precision)[0]


def check_float_range(net):
    """Refuse a network with a finite weight, bias or normalization constant that no
    float32 holds (it would print as inf): one line naming the value and where it is.

    Raises:
        UnsupportedError: the first such value found.
    """
    for where, values in _constants(net):
        values = np.asarray(values, dtype=float)
        outside = np.argwhere(np.isfinite(values) & (np.abs(values) > FLOAT_MAX))
        if len(outside):
            index = "".join(f"[{i}]" for i in outside[0])
            raise UnsupportedError(
                f"{where}{index} = {float(values[tuple(outside[0])])!r} does not fit a float"
                f" (largest {FLOAT_MAX:.8g}); use --precision double")


def _constants(net):
    """(where, array) for every number of the network that reaches the generated code."""
    for number, layer in enumerate(net.layers, 1):
        label = f"layer {number}" + (f" ({layer.name})" if layer.name else "")
        yield f"{label}: bias", layer.bias
        for source, weights in layer.input_weights:
            yield f"{label}: weights IW{number}_{source + 1}", weights
        for source, weights in layer.layer_weights:
            yield f"{label}: weights LW{number}_{source + 1}", weights
    for kind, ends in (("input", net.inputs), ("output", net.outputs)):
        for end in ends:
            for step in end.steps:
                for field, value in vars(step).items():
                    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                        yield f"{kind} {end.name!r}: {type(step).__name__} {field}", value
