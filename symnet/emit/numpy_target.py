"""The ``numpy`` target: the same functions as ``python``, vectorized over a batch."""

from sympy.printing.numpy import NumPyPrinter

from . import Target
from .common import render
from .numpy_layered import render_layered
from .python_target import FUNCTION_NAMES, python_function, render_check

DOCS = {
    "value": "Outputs Y of shape (..., N_OUTPUTS) for X of shape (..., N_INPUTS).",
    "gradient": "Gradient of shape (..., N_INPUTS) of the single output for X of shape (..., N_INPUTS).",
    "jacobian": "Jacobian J[..., i, k] = dy_i/dx_k, shape (..., N_OUTPUTS, N_INPUTS).",
    "hessian": "Hessians H[..., i, k, m] = d2y_i/dx_k dx_m, shape (..., N_OUTPUTS, N_INPUTS, N_INPUTS).",
}


class ExactNumPyPrinter(NumPyPrinter):
    """NumPy printer that writes every double with the shortest round-trip repr."""

    def _print_Float(self, expr):
        return repr(float(expr))

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


TARGET = Target("numpy", render_numpy, "NumPy module, vectorized over a batch of points",
                ("unrolled", "layered"))
