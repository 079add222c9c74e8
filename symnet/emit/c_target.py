"""The ``c`` target: a C99 header and source (``<math.h>`` only; no allocation,
no mutable state, reentrant), one point per call plus batch variants, in
double or single precision, and a self-check program ``NAME_check.c``.

Emission is split in two: ``function_data`` turns a Program into plain
template data (one emission strategy: straight-line, fully unrolled code),
and the templates lay that data out.  Another strategy only has to produce
the same fields with its own ``body`` template.
"""

from dataclasses import dataclass

import numpy as np
from sympy.codegen.ast import float32, real
from sympy.printing.c import C99CodePrinter
from sympy.printing.precedence import PRECEDENCE

from . import Target
from .c_layered import layered_functions, one_copy, stack_text, vector_math
from .c_literals import c_literal, c_literals, check_float_range
from .common import print_program, render
from .printer_tools import NumericConstantsMixin
from .python_target import FUNCTION_NAMES
from .selfcheck import check_vectors

#: x**n with |n| up to this is printed as a product (exact, no pow() call).
MAX_UNROLLED_POWER = 4

OUTPUT_NAMES = {"value": "y", "gradient": "grad", "jacobian": "jac", "hessian": "hess"}

DOCS = {
    "value": "y[i] = output i (NAME_N_OUTPUTS values).",
    "gradient": "grad[k] = dy/dx_k of the single output (NAME_N_INPUTS values).",
    "jacobian": "jac[i*NAME_N_INPUTS + k] = dy_i/dx_k (row-major, NAME_N_OUTPUTS x NAME_N_INPUTS).",
    "hessian": "hess[(i*NAME_N_INPUTS + k)*NAME_N_INPUTS + m] = d2y_i/dx_k dx_m"
               " (row-major, NAME_N_OUTPUTS x NAME_N_INPUTS x NAME_N_INPUTS).",
}

SIZE_FACTORS = {"value": ("N_OUTPUTS",), "gradient": ("N_INPUTS",),
                "jacobian": ("N_OUTPUTS", "N_INPUTS"), "hessian": ("N_OUTPUTS", "N_INPUTS", "N_INPUTS")}


@dataclass(frozen=True)
class CPrecision:
    """``name`` as on the command line, ``ctype`` the C type of every number."""

    name: str
    ctype: str


PRECISIONS = {"double": CPrecision("double", "double"), "float": CPrecision("float", "float")}


class ExactCPrinter(NumericConstantsMixin, C99CodePrinter):
    """C99 printer with exact literals, small integer powers as products and
    one-line ternaries for Piecewise; in float precision every literal gets an
    ``f`` suffix and every math function its float variant (tanhf, expf)."""

    def __init__(self, precision="double"):
        super().__init__({"type_aliases": {real: float32}} if precision == "float" else {})
        self.precision = precision

    def _print_Float(self, expr):
        return c_literal(float(expr), self.precision)

    def _print_Rational(self, expr):
        return f"({c_literal(int(expr.p), self.precision)}/{c_literal(int(expr.q), self.precision)})"

    def _print_Pow(self, expr):
        exponent = expr.exp
        if exponent.is_Integer and 1 < abs(int(exponent)) <= MAX_UNROLLED_POWER:
            factor = self.parenthesize(expr.base, PRECEDENCE["Mul"])
            product = "(" + "*".join([factor] * abs(int(exponent))) + ")"
            return product if exponent > 0 else f"{c_literal(1.0, self.precision)}/{product}"
        return super()._print_Pow(expr)

    def _print_Piecewise(self, expr):
        if expr.args[-1].cond != True:  # noqa: E712 (sympy's true)
            raise ValueError("a Piecewise without a final 'otherwise' branch cannot be printed")
        text = self._print(expr.args[-1].expr)
        for branch, condition in reversed(expr.args[:-1]):
            text = f"(({self._print(condition)}) ? ({self._print(branch)}) : ({text}))"
        return text


def base_data(what, shape, name):
    """Template data every C function has, whatever its strategy."""
    macro = name.upper()
    return {
        "name": f"{name}_{FUNCTION_NAMES[what]}",
        "what": what,
        "doc": DOCS[what].replace("NAME_", f"{macro}_"),
        "output": OUTPUT_NAMES[what],
        "size": int(np.prod(shape, dtype=int)),
        "size_expr": " * ".join(f"{macro}_{factor}" for factor in SIZE_FACTORS[what]),
        "batch_body": None,   # None: the batch function calls the single-point one per point
    }


def function_data(what, program, printer, name):
    """Template data of one straight-line (unrolled) C function."""
    printed = print_program(program, printer)
    return {
        **base_data(what, printed.shape, name),
        "inputs": printed.inputs,
        "assignments": printed.assignments,
        "stores": tuple((flat, expr) for flat, _, expr in printed.stores),
        "body": "c/unrolled_body.c.j2",
    }


def check_data(request, precision):
    """Template data of the self-check program."""
    vectors = check_vectors(request, precision.name)
    blocks = [{"what": block.what,
               "size": block.size,
               "expected": tuple(c_literals(block.expected_flat())),
               "scale": tuple(c_literals(block.scale_flat())),
               "tolerance": c_literal(block.tolerance)}
              for block in vectors.blocks]
    return {"points": vectors.point_count,
            "x": tuple(c_literals(vectors.points_flat(), precision.name)),
            "blocks": blocks}


def render_c(request):
    precision = PRECISIONS[request.precision]
    if precision.name == "float":
        check_float_range(request.network)
    printer = ExactCPrinter(precision.name)
    name = request.name
    if request.strategy == "layered":
        functions, constants = layered_functions(request, printer, lambda v: c_literal(v, precision.name),
                                                 precision.ctype, lambda what, shape: base_data(what, shape, name))
    else:
        functions, constants = [function_data(what, program, printer, name) for what, program in request.programs], []
    checks = check_data(request, precision)
    for function, block in zip(functions, checks["blocks"]):
        block["function"] = function
    context = {"name": name, "macro": name.upper(), "header": request.header, "real": precision.ctype,
               "precision": precision.name, "functions": functions, "check": checks, "constants": constants,
               "vector_math": request.strategy == "layered" and vector_math(precision.ctype),
               "stack_text": stack_text(functions) if constants else "",
               "one_copy": request.strategy == "layered" and one_copy(request.network),
               "n_inputs": request.network.n_inputs, "n_outputs": request.network.n_outputs}
    return {f"{name}.h": render("c/header.h.j2", **context),
            f"{name}.c": render("c/source.c.j2", **context),
            f"{name}_check.c": render("c/check.c.j2", **context)}


TARGET = Target("c", render_c, "C99 header and source (math.h only), double or float, with a self-check",
                ("unrolled", "layered"))
