"""Layered pass: tanh's slope recognized once, for every language that computes it
faster than as written; and (``folded_constant_scales``) a constant tangent's scaling
folded into the product that reads it.

symnet.ir.transfer writes tanh'(u) as 4t/(t + 1)**2 with a temporary t = exp(-2|u|) (exact
where tanh saturates).  ``fused_tanh_slopes`` rewrites that as TANH_SLOPE(u), one call:
the C backend computes it next to tanh(u) with one shared division
(templates/c/vector_math.c.j2), the NumPy backend as 1/cosh(u)**2 in one ufunc
(``tanh_slope_targets``).
"""

import dataclasses

import sympy as sp

from .steps import Linear, Operand, Scale, reads, without_unread_temporaries

#: tanh'(u) as one function of u (the C backend prints it as symnet_tanh_slope).
TANH_SLOPE = sp.Function("symnet_tanh_slope")


def fused_tanh_slopes(step):
    """``step`` (an Elementwise step) with every 4t/(t + 1)**2, t a temporary
    exp(-2|u|), written TANH_SLOPE(u); temporaries no longer read dropped."""
    wild = sp.Wild("u")
    exponentials = {}
    for target, expression in step.statements:
        match = None if isinstance(target, Operand) else sp.sympify(expression).match(sp.exp(-2 * sp.Abs(wild)))
        if match:
            exponentials[target] = match[wild]
    if not exponentials:
        return step
    slopes = {4 * t / (t + 1) ** 2: TANH_SLOPE(u) for t, u in exponentials.items()}
    statements = [(target, sp.sympify(expression).xreplace(slopes)) for target, expression in step.statements]
    return dataclasses.replace(step, statements=tuple(without_unread_temporaries(statements)))


def tanh_slope_targets(step, argument):
    """{output Operand: the Operand ``argument`` is bound to} for each output of ``step``
    that is exactly tanh's slope of the per-element symbol ``argument`` (no other term)."""
    bound = dict(step.arguments)
    if argument not in bound:
        return {}
    whole = TANH_SLOPE(argument)
    return {target: bound[argument] for target, expression in fused_tanh_slopes(step).statements
            if isinstance(target, Operand) and sp.sympify(expression) == whole}


def folded_constant_scales(program):
    """``program`` with every Scale of a constant (a forward tangent that is a weight
    matrix, times the slope of its layer) that one product alone reads folded into that
    product's term (Term.scale), its array gone.  For the C batch kernel, whose arrays
    hold a block of points each: 20-256-256-10's Hessian keeps 20x256 numbers less per
    point, and the product scales one row of the constant at a time."""
    readers = {}
    for index, step in enumerate(program.steps):
        for operand in reads(step):
            readers.setdefault(operand.name, []).append(index)
    folded = {}
    for index, step in enumerate(program.steps):
        if not (isinstance(step, Scale) and step.source.constant and step.out.name != program.result.name):
            continue
        reader = readers.get(step.out.name, [])
        if len(reader) == 1 and _read_as_term_only(program.steps[reader[0]], step.out):
            folded[step.out.name] = step
    if not folded:
        return program
    steps = []
    for step in program.steps:
        if isinstance(step, Scale) and step.out.name in folded:
            continue
        if isinstance(step, Linear) and any(t.source.name in folded for t in step.terms):
            terms = tuple(dataclasses.replace(t, source=folded[t.source.name].source,
                                              scale=folded[t.source.name].slope)
                          if t.source.name in folded else t for t in step.terms)
            step = dataclasses.replace(step, terms=terms)
        steps.append(step)
    arrays = tuple((operand, shape) for operand, shape in program.arrays if operand.name not in folded)
    return dataclasses.replace(program, steps=tuple(steps), arrays=arrays)


def _read_as_term_only(step, operand):
    """True when ``step`` is a product reading ``operand`` only as the source of terms."""
    if not isinstance(step, Linear) or (step.offset is not None and step.offset.name == operand.name):
        return False
    return any(term.source.name == operand.name and term.scale is None for term in step.terms)
