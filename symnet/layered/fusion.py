"""Layered pass: tanh's slope recognized once, for every language that computes it
faster than as written.

symnet.ir.transfer writes tanh'(u) as 4t/(t + 1)**2 with a temporary t = exp(-2|u|) (exact
where tanh saturates).  ``fused_tanh_slopes`` rewrites that as TANH_SLOPE(u), one call:
the C backend computes it next to tanh(u) with one shared division
(templates/c/vector_math.c.j2), the NumPy backend as 1/cosh(u)**2 in one ufunc
(``tanh_slope_targets``).
"""

import dataclasses

import sympy as sp

from .steps import Operand, without_unread_temporaries

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
