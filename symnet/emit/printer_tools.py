"""What the code printers of the C and MATLAB targets share."""

import sympy as sp

#: Digits used to round an irrational constant (pi, sqrt(2), ...) to the nearest double.
CONSTANT_DIGITS = 30


class NumericConstantsMixin:
    """Prints every constant that is not a plain number (sqrt(2/pi), pi, E) as the
    double nearest to its value, through the printer's ``_print_Float``: no
    M_PI-style macros (not in strict C99) and no run-time sqrt of a constant."""

    def _print(self, expr, **kwargs):
        if (isinstance(expr, sp.Expr) and expr.is_number and not isinstance(expr, (sp.Rational, sp.Float))
                and expr.is_real):
            return self._print_Float(sp.Float(float(expr.evalf(CONSTANT_DIGITS))))
        return super()._print(expr, **kwargs)
