"""The ``matlab`` backend's driver and unrolled form: one function file per derivative, vectorized over
the columns of X (MATLAB's network-function convention), in the syntax
common to MATLAB and GNU Octave, plus a self-check function ``NAME_check``.

As in the C target, ``function_data`` turns a Program into template data
(straight-line, fully unrolled) and the templates lay it out; the layered
form (weight matrices, one matrix product per layer) is ``layered``.
In both, kinks (Piecewise) become masked assignments, never
``mask.*a + ~mask.*b``: a branch that is Inf where it is not selected (exp
overflow, a pole of elliotsig) must not turn the result into NaN.
"""

import sympy as sp

from ...ir.derivative_spec import argument_count, spec_of
from ..common import FUNCTION_NAMES, DerivativeTable, render, unravel
from ..layered_common import request_programs
from ..program_tools import hoist_piecewise, used_symbols
from ..selfcheck import check_data, repr_literals
from .layered import ARGUMENT_NAMES, layered_function_data
from .printer import NAME_LENGTH_MAX, ExactOctavePrinter, matlab_name

OUTPUT_NAMES = DerivativeTable({"value": "Y", "gradient": "G", "jacobian": "J", "hessian": "H"},
                               lambda spec: {"jvp": "JV", "vjp": "VJ", "hvp": "HV", "laplacian": "LAP",
                                             "divergence": "DIV"}.get(spec.kind, "D")
                               if spec.kind != "expression"
                               else {"value": "E", "gradient": "DE", "hessian": "D2E"}[spec.what])

TITLES = DerivativeTable({
    "value": "Raw outputs of the network.",
    "gradient": "Gradient of the single raw output with respect to the raw inputs.",
    "jacobian": "Jacobian of the raw outputs with respect to the raw inputs.",
    "hessian": "Hessians of the raw outputs with respect to the raw inputs.",
}, lambda spec: f"{spec.formula()} of the raw outputs with respect to the raw inputs.")

LAYOUTS = DerivativeTable({
    "value": "Y is N_OUTPUTS-by-Q, Y(i,q) = y_i at X(:,q).",
    "gradient": "G is N_INPUTS-by-Q, G(k,q) = dy/dx_k at X(:,q).",
    "jacobian": "J is N_OUTPUTS-by-N_INPUTS-by-Q, J(i,k,q) = dy_i/dx_k at X(:,q).",
    "hessian": "H is N_OUTPUTS-by-N_INPUTS-by-N_INPUTS-by-Q, H(i,k,m,q) = d2y_i/dx_k dx_m at X(:,q).",
}, lambda spec: {
    "jvp": "JV is N_OUTPUTS-by-Q, JV(i,q) = sum_k dy_i/dx_k V(k,q) at X(:,q); V is N_INPUTS-by-Q.",
    "vjp": "VJ is N_INPUTS-by-Q, VJ(k,q) = sum_i W(i,q) dy_i/dx_k at X(:,q); W is N_OUTPUTS-by-Q.",
    "hvp": "HV is N_OUTPUTS-by-N_INPUTS-by-Q, HV(i,k,q) = sum_m d2y_i/dx_k dx_m V(m,q) at X(:,q);"
           " V is N_INPUTS-by-Q.",
    "laplacian": "LAP is N_OUTPUTS-by-Q, LAP(i,q) = sum_k d2y_i/dx_k^2 at X(:,q).",
    "divergence": "DIV is 1-by-Q, DIV(q) = sum_k dy_k/dx_k at X(:,q).",
}.get(spec.kind, f"D is 1-by-Q, D(q) = {spec.formula()} at X(:,q).") if spec.kind != "expression" else {
    "value": f"E is 1-by-Q, E(q) = {spec.base} at X(:,q); {spec.formula()}.",
    "gradient": f"DE is N_INPUTS-by-Q, DE(k,q) = d{spec.base}/dx_k at X(:,q).",
    "hessian": f"D2E is N_INPUTS-by-N_INPUTS-by-Q, D2E(k,m,q) = d2{spec.base}/dx_k dx_m at X(:,q).",
}[spec.what])


def statement_data(target, expr, printer, rows=1):
    """One assignment as template data: plain, or a Piecewise as masked assignments
    (branches listed in the order they are applied: the last one wins) into an array
    of ``rows``-by-Q."""
    name = printer.doprint(target)
    if not isinstance(expr, sp.Piecewise):
        return {"kind": "plain", "target": name, "expr": printer.doprint(expr)}
    default = expr.args[-1]
    if default.cond != True:  # noqa: E712 (sympy's true)
        raise ValueError("a Piecewise without a final 'otherwise' branch cannot be printed")
    branches = [{"condition": printer.doprint(condition), "expr": printer.doprint(branch),
                 "constant": not branch.free_symbols}
                for branch, condition in reversed(expr.args[:-1])]
    return {"kind": "piecewise", "target": name, "rows": rows, "default": printer.doprint(default.expr),
            "default_constant": not default.expr.free_symbols, "branches": branches}


def function_header(what, name, net):
    """Template data every function file has, whatever its strategy."""
    return {
        "name": matlab_name(f"{name}_{FUNCTION_NAMES[what]}"),
        "full_name": f"{name}_{FUNCTION_NAMES[what]}",
        "what": what,
        "title": TITLES[what],
        "layout": LAYOUTS[what].replace("N_OUTPUTS", str(net.n_outputs)).replace(
            "N_INPUTS", str(net.n_inputs)),
        "output": OUTPUT_NAMES[what],
        "n_inputs": net.n_inputs,
        "arguments": [{"name": ARGUMENT_NAMES.get(name, name),
                       "rows": argument_count(size, net.n_inputs, net.n_outputs)}
                      for name, size in spec_of(what).extra_arguments],
    }


def function_data(what, program, printer, name, net):
    """Template data of one vectorized, straight-line function file."""
    program = hoist_piecewise(program)
    block = program.blocks[0]
    used = used_symbols(program)
    inputs = tuple((printer.doprint(x), k + 1) for k, x in enumerate(program.inputs) if x in used)
    stores = tuple((", ".join(str(i + 1) for i in unravel(flat, block.shape)), printer.doprint(entry))
                   for flat, entry in enumerate(block.entries))
    return {
        **function_header(what, name, net),
        "shape": ", ".join(str(size) for size in block.shape),
        "inputs": inputs,
        "argument_inputs": tuple((printer.doprint(symbol), ARGUMENT_NAMES.get(argument, argument), k + 1)
                                 for argument, symbols in program.arguments for k, symbol in enumerate(symbols)
                                 if symbol in used),
        "statements": tuple(statement_data(a.target, a.expr, printer) for a in program.assignments),
        "stores": stores,
        "body": "matlab/unrolled_body.m.j2",
        "form": (),
        "trailer": None,
    }


def render_matlab(request):
    printer = ExactOctavePrinter()
    name = request.name
    net = request.network
    if request.strategy == "layered":
        functions = [layered_function_data(what, program, printer, function_header(what, name, net))
                     for what, program in request_programs(request)]
    else:
        functions = [function_data(what, program, printer, name, net) for what, program in request.programs]
    check = check_data(request, repr_literals, order="F")
    for function, block in zip(functions, check["blocks"]):
        block["function"] = function["name"]
    check_name = matlab_name(f"{name}_check")
    context = {"name": name, "upper": name.upper(), "check_name": check_name, "header": request.header,
               "functions": functions, "name_length_max": NAME_LENGTH_MAX,
               "n_inputs": net.n_inputs, "n_outputs": net.n_outputs, "check": check}
    files = {}
    for function in functions:
        files[f"{function['name']}.m"] = render("matlab/function.m.j2", function=function, **context)
    files[f"{check_name}.m"] = render("matlab/check.m.j2", **context)
    return files

