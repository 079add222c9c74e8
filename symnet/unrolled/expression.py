"""Derive stage for a user expression (symnet.ir.expression_spec): the expression as a
straight-line program over the raw inputs, and its gradient and Hessian.

Each partial derivative the expression reads is built by differentiating the forward
program once per input, in order (as a named partial derivative is), a common prefix of
inputs once for all the quantities that share it (y_x and y_xx share d/dx).  The
expression, with every quantity replaced by its entry, is then one more assignment of a
single-output program, whose gradient and Hessian are the forward-tangent program of
symnet.unrolled.derive.  The parameters are symbols of their own: arguments of the
generated functions, constants for every differentiation.
"""

import sympy as sp

from ..ir.expression_spec import parameter_symbols
from .program import Assignment, Block, Program


def expression_program(forward, spec, derivative_program):
    """A one-block Program of ``spec`` ("value", "gradient" or "hessian" of the expression);
    ``derivative_program`` is symnet.unrolled.derive's."""
    assignments, entries = _quantities(forward, spec.user.quantities)
    expression = sp.sympify(spec.user.expression).xreplace(
        {q.symbol: entries[q] for q in spec.user.quantities})
    arguments = parameter_symbols(spec)
    shape = spec.shape(len(forward.inputs), 1)
    if spec.what == "value":
        return Program(forward.inputs, assignments, (Block(spec.name, shape, (expression,)),), arguments)
    target = sp.Symbol(f"{spec.base}_e", real=True)
    single = Program(forward.inputs, assignments + (Assignment(target, expression),),
                     (Block("value", (1,), (target,)),))
    derived = derivative_program(single, spec.what)
    return Program(forward.inputs, derived.assignments, (Block(spec.name, shape, derived.blocks[0].entries),),
                   arguments)


def _quantities(forward, quantities):
    """(assignments, {Quantity: entry}): every assignment the quantities need, in an order
    that defines each symbol before it is read."""
    from .derive import _along, _chain, _partials
    values = tuple(sp.sympify(v) for v in forward.block("value").entries)
    branches = {(): (tuple(forward.assignments), values)}

    def branch(inputs):
        if inputs not in branches:
            assignments, entries = branch(inputs[:-1])
            suffix = "q" + "".join(f"x{k}" for k in inputs)   # no digit after an underscore: tangent names stay apart
            new, tangent = _along(assignments, forward.inputs, inputs[-1], suffix)
            entries = tuple(_chain(_partials(Assignment(sp.Dummy(), e), tangent), lambda u: tangent[u])
                            for e in entries)
            branches[inputs] = (assignments + new, entries)
        return branches[inputs]

    entries = {q: branch(tuple(q.inputs))[1][q.output] for q in quantities}
    merged = {}
    for assignments, _ in branches.values():   # parents were made before their extensions
        for assignment in assignments:
            merged.setdefault(assignment.target, assignment)
    return tuple(merged.values()), entries
