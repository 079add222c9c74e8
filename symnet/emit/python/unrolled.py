"""The unrolled form of the ``python`` backend, its self-check, and what ``numpy`` shares of it."""

from ...ir.derivative_spec import spec_of
from ..common import FUNCTION_NAMES, DerivativeTable, print_program, render
from ..selfcheck import check_data, repr_literals
from .layered import render_layered
from .printer import FloatPythonPrinter

DOCS = DerivativeTable({
    "value": "Outputs y (list of N_OUTPUTS floats) at one point x (sequence of N_INPUTS floats).",
    "gradient": "Gradient dy/dx (list of N_INPUTS floats) of the single output at one point x.",
    "jacobian": "Jacobian J[i][k] = dy_i/dx_k (N_OUTPUTS lists of N_INPUTS floats) at one point x.",
    "hessian": "Hessians H[i][k][m] = d2y_i/dx_k dx_m (N_OUTPUTS x N_INPUTS x N_INPUTS nested lists) at one point x.",
}, lambda spec: f"{spec.formula()} ({per_point(spec)}) at one point x"
                + "".join(f" and {name} ({argument_words(size)} float{'' if size == 1 else 's'})"
                        for name, size in spec.extra_arguments) + ".")

#: What each derivative beyond the whole arrays returns at one point.
PER_POINT = {"jvp": "list of N_OUTPUTS floats", "vjp": "list of N_INPUTS floats",
             "hvp": "N_OUTPUTS lists of N_INPUTS floats", "laplacian": "list of N_OUTPUTS floats",
             "divergence": "list of 1 float", "partial": "list of 1 float"}
#: What a user expression's functions return at one point (symnet.ir.expression_spec).
EXPRESSION_PER_POINT = {"value": "list of 1 float", "gradient": "list of N_INPUTS floats",
                        "hessian": "N_INPUTS lists of N_INPUTS floats"}


def per_point(spec):
    return EXPRESSION_PER_POINT[spec.what] if spec.kind == "expression" else PER_POINT[spec.kind]


def argument_words(size):
    """The size of an extra argument in the module's constants, or a parameter's count."""
    return str(size) if isinstance(size, int) else f"N_{size.upper()}"

def python_function(what, program, printer, place):
    printed = print_program(program, printer)
    return {
        "name": FUNCTION_NAMES[what],
        "doc": DOCS[what],
        "inputs": printed.inputs,
        "assignments": printed.assignments,
        "stores": tuple((place(index), expr) for _, index, expr in printed.stores),
        "shape": printed.shape,
        "arguments": tuple(name for name, _ in spec_of(what).extra_arguments),
        "argument_inputs": printed.arguments,
    }


def nested_list_literal(shape):
    """An expression building a zero-filled nested list of ``shape``."""
    text = f"[0.0] * {shape[-1]}"
    for size in reversed(shape[:-1]):
        text = f"[{text} for _ in range({size})]"
    return text


def render_python(request):
    printer = FloatPythonPrinter({"fully_qualified_modules": True})
    if request.strategy == "layered":
        files = render_layered(request, printer, DOCS, FUNCTION_NAMES)
        return {**files, f"{request.name}_check.py": render_check(request, request.name, False)}
    functions = []
    for what, program in request.programs:
        function = python_function(what, program, printer, lambda index: "".join(f"[{i}]" for i in index))
        function["init"] = nested_list_literal(function["shape"])
        functions.append(function)
    net = request.network
    text = render("python/module.py.j2", header=request.header, functions=functions,
                  n_inputs=net.n_inputs, n_outputs=net.n_outputs)
    return {f"{request.name}.py": text, f"{request.name}_check.py": render_check(request, request.name, False)}


def render_check(request, module, batch):
    """The self-check script of a generated Python module (``batch``: vectorized functions)."""
    check = check_data(request, repr_literals)
    return render("python/check.py.j2", header=request.header, module=module, batch=batch, check=check,
                  n_inputs=request.network.n_inputs)

