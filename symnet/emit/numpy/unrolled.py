"""The unrolled form of the ``numpy`` backend: the functions of ``python``, vectorized over a batch."""

from ..common import FUNCTION_NAMES, DerivativeTable, render
from ..python.unrolled import argument_words, python_function, render_check
from .layered import render_layered
from .printer import ExactNumPyPrinter

DOCS = DerivativeTable({
    "value": "Outputs Y of shape (..., N_OUTPUTS) for X of shape (..., N_INPUTS).",
    "gradient": "Gradient of shape (..., N_INPUTS) of the single output for X of shape (..., N_INPUTS).",
    "jacobian": "Jacobian J[..., i, k] = dy_i/dx_k, shape (..., N_OUTPUTS, N_INPUTS).",
    "hessian": "Hessians H[..., i, k, m] = d2y_i/dx_k dx_m, shape (..., N_OUTPUTS, N_INPUTS, N_INPUTS).",
}, lambda spec: f"{spec.formula()} of shape (..., {', '.join(shape_words(spec))}) for X of shape (..., N_INPUTS)"
                + "".join(f", {name.upper()} of shape (..., {argument_words(size)})"
                          for name, size in spec.extra_arguments)
                + ".")

#: The per-point shape of each derivative beyond the whole arrays, in the module's constants.
SHAPE_WORDS = {"jvp": ("N_OUTPUTS",), "vjp": ("N_INPUTS",), "hvp": ("N_OUTPUTS", "N_INPUTS"),
               "laplacian": ("N_OUTPUTS",), "divergence": ("1",), "partial": ("1",)}
#: The same for a user expression's functions (symnet.ir.expression_spec).
EXPRESSION_SHAPE_WORDS = {"value": ("1",), "gradient": ("N_INPUTS",), "hessian": ("N_INPUTS", "N_INPUTS")}


def shape_words(spec):
    return EXPRESSION_SHAPE_WORDS[spec.what] if spec.kind == "expression" else SHAPE_WORDS[spec.kind]


def render_numpy(request):
    printer = ExactNumPyPrinter()
    module = f"{request.name}_numpy"
    if request.strategy == "layered":
        files = render_layered(request, printer, DOCS, FUNCTION_NAMES)
        return {**files, f"{module}_check.py": render_check(request, module, True)}
    functions = []
    for what, program in request.programs:
        function = python_function(what, program, printer,
                                   lambda index: "[..., " + ", ".join(str(i) for i in index) + "]")
        function["doc"] = DOCS[what]
        functions.append(function)
    net = request.network
    text = render("numpy/module.py.j2", header=request.header, functions=functions,
                  n_inputs=net.n_inputs, n_outputs=net.n_outputs,
                  imports_math="math" in printer.module_imports)
    return {f"{module}.py": text, f"{module}_check.py": render_check(request, module, True)}

