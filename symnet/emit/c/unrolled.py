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

from ...ir.derivative_spec import argument_count, spec_of
from ..common import FUNCTION_NAMES, DerivativeTable, print_program, render
from ..selfcheck import check_data
from .fast_activations import FAST_FUNCTIONS, FAST_MATH
from .layered import layered_functions, one_copy, stack_text, vector_math
from .literals import c_literal, c_literals, check_float_range
from .printer import ExactCPrinter

OUTPUT_NAMES = DerivativeTable({"value": "y", "gradient": "grad", "jacobian": "jac", "hessian": "hess"},
                               lambda spec: {"jvp": "jv", "vjp": "vj", "hvp": "hv", "laplacian": "lap",
                                             "divergence": "div"}.get(spec.kind, "partial")
                               if spec.kind != "expression" else EXPRESSION_OUTPUTS[spec.what])
#: The output array of a user expression's functions (symnet.ir.expression_spec).
EXPRESSION_OUTPUTS = {"value": "e", "gradient": "de", "hessian": "d2e"}

DOCS = DerivativeTable({
    "value": "y[i] = output i (NAME_N_OUTPUTS values).",
    "gradient": "grad[k] = dy/dx_k of the single output (NAME_N_INPUTS values).",
    "jacobian": "jac[i*NAME_N_INPUTS + k] = dy_i/dx_k (row-major, NAME_N_OUTPUTS x NAME_N_INPUTS).",
    "hessian": "hess[(i*NAME_N_INPUTS + k)*NAME_N_INPUTS + m] = d2y_i/dx_k dx_m"
               " (row-major, NAME_N_OUTPUTS x NAME_N_INPUTS x NAME_N_INPUTS).",
}, lambda spec: f"{OUTPUT_NAMES[spec.name]} = {spec.formula()} ({_count_text(SIZE_FACTORS[spec.name])})"
                + "".join(f"; {name} holds {_argument_count_text(size)}" for name, size in spec.extra_arguments) + ".")

SIZE_FACTORS = DerivativeTable(
    {"value": ("N_OUTPUTS",), "gradient": ("N_INPUTS",),
     "jacobian": ("N_OUTPUTS", "N_INPUTS"), "hessian": ("N_OUTPUTS", "N_INPUTS", "N_INPUTS")},
    lambda spec: {"jvp": ("N_OUTPUTS",), "vjp": ("N_INPUTS",), "hvp": ("N_OUTPUTS", "N_INPUTS"),
                  "laplacian": ("N_OUTPUTS",)}.get(spec.kind, ("1",)) if spec.kind != "expression"
    else {"value": ("1",), "gradient": ("N_INPUTS",), "hessian": ("N_INPUTS", "N_INPUTS")}[spec.what])


def _argument_count_text(size):
    """How many values an extra argument holds, in the header's macros ("inputs", "outputs")
    or as a number (a user expression's parameter)."""
    return f"{size} value{'s' if size != 1 else ''}" if isinstance(size, int) else f"NAME_N_{size.upper()} values"


def _argument_size_expr(size, macro):
    return str(size) if isinstance(size, int) else f"{macro}_N_{size.upper()}"


def _count_text(factors):
    """How many values an output array holds, in the header's macros."""
    if factors == ("1",):
        return "1 value"
    text = " x ".join(f"NAME_{factor}" for factor in factors) + " values"
    return text + (", row-major" if len(factors) > 1 else "")


@dataclass(frozen=True)
class CPrecision:
    """``name`` as on the command line, ``ctype`` the C type of every number."""

    name: str
    ctype: str


PRECISIONS = {"double": CPrecision("double", "double"), "float": CPrecision("float", "float")}


def base_data(what, shape, name, counts):
    """Template data every C function has, whatever its strategy (``counts``: {"inputs":
    n_inputs, "outputs": n_outputs}, the sizes of the extra arguments)."""
    macro = name.upper()
    return {
        "name": f"{name}_{FUNCTION_NAMES[what]}",
        "what": what,
        "doc": DOCS[what].replace("NAME_", f"{macro}_"),
        "output": OUTPUT_NAMES[what],
        "size": int(np.prod(shape, dtype=int)),
        "size_expr": " * ".join(factor if factor == "1" else f"{macro}_{factor}" for factor in SIZE_FACTORS[what]),
        "arguments": [{"name": argument, "size_expr": _argument_size_expr(size, macro),
                       "size": argument_count(size, counts["inputs"], counts["outputs"])}
                      for argument, size in spec_of(what).extra_arguments],
        "batch_body": None,   # None: the batch function calls the single-point one per point
    }


def function_data(what, program, printer, name, counts):
    """Template data of one straight-line (unrolled) C function."""
    printed = print_program(program, printer)
    return {
        **base_data(what, printed.shape, name, counts),
        "inputs": printed.inputs,
        "argument_inputs": printed.arguments,
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
    counts = {"inputs": request.network.n_inputs, "outputs": request.network.n_outputs}
    if request.strategy == "layered":
        if request.activations == "fast":
            printer.known_functions = {**printer.known_functions, **FAST_FUNCTIONS}
        functions, constants = layered_functions(request, printer, lambda v: c_literal(v, precision.name),
                                                 precision.ctype, lambda what, shape: base_data(what, shape, name, counts))
    else:
        functions = [function_data(what, program, printer, name, counts) for what, program in request.programs]
        constants = []
    checks = check_data(request, c_literals, precision=precision.name)
    for function, block in zip(functions, checks["blocks"]):
        block["function"] = function
    context = {"name": name, "macro": name.upper(), "header": request.header, "real": precision.ctype,
               "precision": precision.name, "functions": functions, "check": checks, "constants": constants,
               "vector_math": request.strategy == "layered" and vector_math(precision.ctype),
               "stack_text": stack_text(functions) if constants else "",
               "group_tiles": bool(constants) and any(step.get("tiled") for f in functions for step in f["steps"]),
               "padded_units": bool(constants) and any(step.get("padded") for f in functions for step in f["steps"]),
               "one_copy": request.strategy == "layered" and one_copy(request.network),
               "n_inputs": request.network.n_inputs, "n_outputs": request.network.n_outputs,
               "fast": FAST_MATH[precision.name] if request.activations == "fast" else None}
    return {f"{name}.h": render("c/header.h.j2", **context),
            f"{name}.c": render("c/source.c.j2", **context),
            f"{name}_check.c": render("c/check.c.j2", **context)}

