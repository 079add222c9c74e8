"""The ``c`` backend's driver and unrolled form: a C99 header and source (``<math.h>`` only; no allocation,
no mutable state, reentrant), one point per call plus batch variants, in
double or single precision, and a self-check program ``NAME_check.c``.

Emission is split in two: ``function_data`` turns a Program into plain
template data (one emission strategy: straight-line, fully unrolled code),
and the templates lay that data out.  Another strategy only has to produce
the same fields with its own ``body`` template.
"""

from dataclasses import dataclass

import numpy as np

from ..common import FUNCTION_NAMES, print_program, render
from ..selfcheck import check_data
from .fast_activations import FAST_FUNCTIONS, FAST_MATH
from .layered import layered_functions, one_copy, stack_text, vector_math
from .literals import c_literal, c_literals, check_float_range
from .printer import ExactCPrinter

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


def render_c(request):
    precision = PRECISIONS[request.precision]
    if precision.name == "float":
        check_float_range(request.network)
    printer = ExactCPrinter(precision.name)
    name = request.name
    if request.strategy == "layered":
        if request.activations == "fast":
            printer.known_functions = {**printer.known_functions, **FAST_FUNCTIONS}
        functions, constants = layered_functions(request, printer, lambda v: c_literal(v, precision.name),
                                                 precision.ctype, lambda what, shape: base_data(what, shape, name))
    else:
        functions, constants = [function_data(what, program, printer, name) for what, program in request.programs], []
    checks = check_data(request, c_literals, precision=precision.name)
    for function, block in zip(functions, checks["blocks"]):
        block["function"] = function
    context = {"name": name, "macro": name.upper(), "header": request.header, "real": precision.ctype,
               "precision": precision.name, "functions": functions, "check": checks, "constants": constants,
               "vector_math": request.strategy == "layered" and vector_math(precision.ctype),
               "stack_text": stack_text(functions) if constants else "",
               "one_copy": request.strategy == "layered" and one_copy(request.network),
               "n_inputs": request.network.n_inputs, "n_outputs": request.network.n_outputs,
               "fast": FAST_MATH[precision.name] if request.activations == "fast" else None}
    return {f"{name}.h": render("c/header.h.j2", **context),
            f"{name}.c": render("c/source.c.j2", **context),
            f"{name}_check.c": render("c/check.c.j2", **context)}

