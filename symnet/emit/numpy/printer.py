"""The NumPy printer and how a generated NumPy module spells a double."""

from sympy.printing.numpy import NumPyPrinter

from ..printing import ExactFloatMixin


def literal(value):
    """The shortest round-trip repr of a double."""
    return repr(float(value))


class ExactNumPyPrinter(ExactFloatMixin, NumPyPrinter):
    """NumPy printer that writes every double with the shortest round-trip repr."""

    def literal(self, value):
        return repr(value)

    def _print_Max(self, expr):
        # Nested two-argument numpy.maximum: element-wise, broadcasts scalars, propagates NaN.
        return self._nested("numpy.maximum", expr.args)

    def _print_Min(self, expr):
        return self._nested("numpy.minimum", expr.args)

    def _nested(self, function, args):
        text = self._print(args[-1])
        for arg in reversed(args[:-1]):
            text = f"{self._module_format(function)}({self._print(arg)}, {text})"
        return text

    def _print_erf(self, expr):
        # NumPy has no erf; math.erf applied element-wise keeps the module dependency-free.
        return f"{self._module_format('numpy.vectorize')}({self._module_format('math.erf')}," \
               f" otypes=[float])({self._print(expr.args[0])})"
