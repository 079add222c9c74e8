"""The LaTeX printer and how LaTeX math spells a double."""

from sympy.printing.latex import LatexPrinter

from ..printing import ExactFloatMixin


def latex_number(value):
    """The shortest round-trip decimal of a double, as LaTeX math."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return text


class ExactLatexPrinter(ExactFloatMixin, LatexPrinter):
    """sympy's LaTeX printer writing every double exactly."""

    def literal(self, value):
        return latex_number(value)
