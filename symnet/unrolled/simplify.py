"""Simplify stage: drop what no output needs, then share common subexpressions.

sympy's ``cse`` runs over the small expressions of the straight-line
program (never over inlined trees, whose size and whose Piecewise
conditions make sympy slow), so every repeated quantity — 1 - a**2 of a
tanh layer, a product shared by several tangents — is computed once.
Each temporary is placed right before its first use, so the result is
again a straight-line program in evaluation order.
"""

import dataclasses

import sympy as sp

from .program import Assignment, Block, Program

TEMPORARY_PREFIX = "t"


def simplify(program: Program) -> Program:
    """Return an equivalent, CSE-reduced Program with temporaries t0, t1, ..."""
    assignments = live_assignments(program)
    entries = [sp.sympify(e) for block in program.blocks for e in block.entries]
    expressions = [a.expr for a in assignments] + entries
    temporaries = sp.numbered_symbols(TEMPORARY_PREFIX, real=True)
    replacements, reduced = sp.cse(expressions, symbols=temporaries, order="none")
    ordered = _place_before_first_use(
        replacements, [Assignment(a.target, e) for a, e in zip(assignments, reduced)],
        reduced[len(assignments):])
    rebuilt, start = [], len(assignments)
    for block in program.blocks:
        count = len(block.entries)
        rebuilt.append(Block(block.name, block.shape, tuple(reduced[start:start + count])))
        start += count
    return dataclasses.replace(program, assignments=tuple(ordered), blocks=tuple(rebuilt))


def live_assignments(program):
    """The assignments some block entry depends on, in their original order."""
    needed = set()
    for block in program.blocks:
        for entry in block.entries:
            needed |= sp.sympify(entry).free_symbols
    live = []
    for assignment in reversed(program.assignments):
        if assignment.target in needed:
            needed |= assignment.expr.free_symbols
            live.append(assignment)
    return live[::-1]


def _place_before_first_use(replacements, assignments, final_entries):
    pending = dict(replacements)
    order = {target: index for index, (target, _) in enumerate(replacements)}
    placed = []

    def place_needed(expr):
        for symbol in sorted(expr.free_symbols & pending.keys(), key=order.get):
            if symbol in pending:
                value = pending.pop(symbol)
                place_needed(value)
                placed.append(Assignment(symbol, value))

    for assignment in assignments:
        place_needed(assignment.expr)
        placed.append(assignment)
    for entry in final_entries:
        place_needed(entry)
    return placed
