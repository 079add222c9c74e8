"""The C99 printer: exact literals in double or float precision."""

from sympy.codegen.ast import float32, real
from sympy.printing.c import C99CodePrinter

from ..printing import ExactFloatMixin, NumericConstantsMixin, SmallPowersMixin
from .literals import c_literal


class ExactCPrinter(ExactFloatMixin, SmallPowersMixin, NumericConstantsMixin, C99CodePrinter):
    """C99 printer with exact literals, small integer powers as products and
    one-line ternaries for Piecewise; in float precision every literal gets an
    ``f`` suffix and every math function its float variant (tanhf, expf)."""

    def __init__(self, precision="double"):
        super().__init__({"type_aliases": {real: float32}} if precision == "float" else {})
        self.precision = precision

    def literal(self, value):
        return c_literal(value, self.precision)

    def reciprocal(self, product):
        return f"{self.literal(1.0)}/{product}"

    def _print_Rational(self, expr):
        return f"({self.literal(int(expr.p))}/{self.literal(int(expr.q))})"

    def _print_Piecewise(self, expr):
        if expr.args[-1].cond != True:  # noqa: E712 (sympy's true)
            raise ValueError("a Piecewise without a final 'otherwise' branch cannot be printed")
        text = self._print(expr.args[-1].expr)
        for branch, condition in reversed(expr.args[:-1]):
            text = f"(({self._print(condition)}) ? ({self._print(branch)}) : ({text}))"
        return text
