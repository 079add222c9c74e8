"""The ``javascript`` backend's driver and unrolled form: one function per derivative, each a
straight line of assignments returning a flat row-major array."""

from ..common import FUNCTION_NAMES, print_program, render
from .layered import layered_data
from .printer import ExactJavaScriptPrinter


def render_javascript(request):
    printer = ExactJavaScriptPrinter()
    net = request.network
    if request.strategy == "layered":
        text = render("javascript/layered.js.j2", header=request.header, n_inputs=net.n_inputs,
                      n_outputs=net.n_outputs, **layered_data(request, printer, FUNCTION_NAMES))
        return {f"{request.name}.js": text}
    functions = []
    for what, program in request.programs:
        printed = print_program(program, printer)
        functions.append({"name": FUNCTION_NAMES[what], "inputs": printed.inputs,
                          "assignments": printed.assignments, "shape": printed.shape,
                          "stores": tuple((flat, text) for flat, _, text in printed.stores)})
    text = render("javascript/module.js.j2", header=request.header, functions=functions,
                  n_inputs=net.n_inputs, n_outputs=net.n_outputs)
    return {f"{request.name}.js": text}
