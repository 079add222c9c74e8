"""What the code printers of every language share, as mixins over sympy's printers.

Each language's printer (``symnet/emit/<language>/printer.py``) is a sympy printer
subclass with these mixed in first; it says how to spell a double (``literal``) and,
where it prints small powers as products, the reciprocal of a product.
"""

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

#: Digits used to round an irrational constant (pi, sqrt(2), ...) to the nearest double.
CONSTANT_DIGITS = 30

#: x**n with 2 <= |n| <= this is printed as a product: exact (no pow() call), and a
#: product overflows to inf where pow() would (Python's float ** int raises instead).
MAX_PRODUCT_POWER = 4


class ExactFloatMixin:
    """Every Float printed as ``self.literal(value)``: the exact source text of the double."""

    def literal(self, value):
        raise NotImplementedError(f"{type(self).__name__} must say how it spells a double (literal)")

    def _print_Float(self, expr):
        return self.literal(float(expr))


class SmallPowersMixin:
    """Small integer powers as products (see MAX_PRODUCT_POWER); a negative one as the
    reciprocal of the product, spelled by ``reciprocal``."""

    def reciprocal(self, product):
        raise NotImplementedError(f"{type(self).__name__} must say how it spells 1/product (reciprocal)")

    def _print_Pow(self, expr, **options):
        exponent = expr.exp
        if exponent.is_Integer and 2 <= abs(int(exponent)) <= MAX_PRODUCT_POWER:
            factor = self.parenthesize(expr.base, PRECEDENCE["Mul"])
            product = "(" + "*".join([factor] * abs(int(exponent))) + ")"
            return product if exponent > 0 else self.reciprocal(product)
        return super()._print_Pow(expr, **options)


class NumericConstantsMixin:
    """Prints every constant that is not a plain number (sqrt(2/pi), pi, E) as the
    double nearest to its value, through the printer's ``_print_Float``: no
    M_PI-style macros (not in strict C99) and no run-time sqrt of a constant."""

    def _print(self, expr, **kwargs):
        if (isinstance(expr, sp.Expr) and expr.is_number and not isinstance(expr, (sp.Rational, sp.Float))
                and expr.is_real):
            return self._print_Float(sp.Float(float(expr.evalf(CONSTANT_DIGITS))))
        return super()._print(expr, **kwargs)
