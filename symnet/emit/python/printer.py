"""The Python printer and how Python spells a double."""

import math

from sympy.printing.pycode import PythonCodePrinter

from ..printing import ExactFloatMixin, SmallPowersMixin


def literal(value):
    """The exact round-trip text of a double (``math.inf``/``math.nan`` where repr is not Python)."""
    value = float(value)
    if math.isfinite(value):
        return repr(value)
    return "math.nan" if math.isnan(value) else ("math.inf" if value > 0 else "-math.inf")


class ExactPythonPrinter(ExactFloatMixin, SmallPowersMixin, PythonCodePrinter):
    """Python printer that writes every double with the shortest round-trip repr, and
    small integer powers as products: float ** int raises OverflowError where the
    product is inf, as it is in every other target."""

    def literal(self, value):
        return repr(value)

    def reciprocal(self, product):
        return f"(1/{product})"

    def _print_sin(self, expr):
        return self._periodic("sin", expr)

    def _print_cos(self, expr):
        return self._periodic("cos", expr)

    def _periodic(self, name, expr):
        # math.sin(inf) raises ValueError; every other target gives NaN there, and so does this one.
        argument = self._print(expr.args[0])
        function, isfinite, nan = (self._module_format(f"math.{word}") for word in (name, "isfinite", "nan"))
        return f"({function}({argument}) if {isfinite}({argument}) else {nan})"


class FloatPythonPrinter(ExactPythonPrinter):
    """Integers printed as doubles (0 -> 0.0, 2*x -> 2.0*x: the same values), so that
    every entry a function returns is a float, a constant or a branch of a kink included."""

    def _print_Integer(self, expr):
        return repr(float(expr))
