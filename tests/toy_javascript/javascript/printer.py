"""The JavaScript printer and how JavaScript spells a double."""

import math

from sympy.printing.jscode import JavascriptCodePrinter

from ..printing import ExactFloatMixin, NumericConstantsMixin, SmallPowersMixin


def literal(value):
    """The shortest round-trip text of a double (JavaScript reads Python's repr exactly)."""
    value = float(value)
    if math.isfinite(value):
        return repr(value)
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


class ExactJavaScriptPrinter(ExactFloatMixin, SmallPowersMixin, NumericConstantsMixin, JavascriptCodePrinter):
    """sympy's JavaScript printer with exact doubles, small powers as products and
    one-line ternaries for kinks."""

    def __init__(self):
        super().__init__({"user_functions": {"expm1": "Math.expm1", "log1p": "Math.log1p"}})

    def literal(self, value):
        return literal(value)

    def reciprocal(self, product):
        return f"(1/{product})"

    def _print_Piecewise(self, expr):
        text = self._print(expr.args[-1].expr)
        for branch, condition in reversed(expr.args[:-1]):
            text = f"(({self._print(condition)}) ? ({self._print(branch)}) : ({text}))"
        return text
