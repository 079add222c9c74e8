"""The MATLAB/Octave printer, how MATLAB spells a double, and how it limits names."""

import hashlib

from sympy.printing.octave import OctaveCodePrinter

from ..printing import ExactFloatMixin, NumericConstantsMixin


#: MATLAB's namelengthmax: a longer function, file or variable name is truncated (Octave has no limit).
NAME_LENGTH_MAX = 63

#: Hex digits of the SHA-256 of the full name that end a shortened one.
HASH_DIGITS = 8


def matlab_name(name):
    """``name`` where it fits NAME_LENGTH_MAX, else its first 54 characters, ``_`` and the first
    8 hex digits of the SHA-256 of the whole name: deterministic, distinct for distinct names
    (but for a hash collision), and still starting with the name's letter.  A model name is
    already cut to 48 characters (emit.common.safe_identifier), so what grows past the limit
    is a function name with a partial derivative's or an expression's name appended, and the
    variables the derive stage names after an expression."""
    name = str(name)
    if len(name) <= NAME_LENGTH_MAX:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:HASH_DIGITS]
    return f"{name[:NAME_LENGTH_MAX - HASH_DIGITS - 1]}_{digest}"


def literal(value):
    """The shortest round-trip repr of a double."""
    return repr(float(value))


class ExactOctavePrinter(ExactFloatMixin, NumericConstantsMixin, OctaveCodePrinter):
    """Element-wise Octave/MATLAB printer with exact round-trip doubles."""

    def __init__(self):
        # expm1 and log1p exist in MATLAB and in Octave, element-wise.
        super().__init__({"user_functions": {"expm1": "expm1", "log1p": "log1p"}})

    def literal(self, value):
        return repr(value)

    def _print_Symbol(self, expr):
        # a variable named after a long expression or model name would be truncated by MATLAB
        return matlab_name(super()._print_Symbol(expr))

    def _print_Piecewise(self, expr):
        raise ValueError("Piecewise must be hoisted into masked assignments before printing")
