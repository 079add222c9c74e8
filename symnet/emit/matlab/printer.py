"""The MATLAB/Octave printer and how MATLAB spells a double."""

from sympy.printing.octave import OctaveCodePrinter

from ..printing import ExactFloatMixin, NumericConstantsMixin


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

    def _print_Piecewise(self, expr):
        raise ValueError("Piecewise must be hoisted into masked assignments before printing")
