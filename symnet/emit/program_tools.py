"""Rewrites and queries of a simplified Program that some targets need
before printing (the program itself stays target-neutral)."""

import dataclasses

import sympy as sp

from ..unrolled.program import Assignment, Block

PIECEWISE_PREFIX = "pw"


def used_symbols(program):
    """Every symbol some assignment or block entry reads."""
    used = set()
    for assignment in program.assignments:
        used |= assignment.expr.free_symbols
    for block in program.blocks:
        for entry in block.entries:
            used |= sp.sympify(entry).free_symbols
    return used


def hoist_piecewise(program):
    """An equivalent Program in which every Piecewise is the whole right-hand
    side of its own assignment (inner ones first), so that a target can print
    each kink as statements instead of inside an expression."""
    taken = {str(s) for s in used_symbols(program)} | {str(a.target) for a in program.assignments}
    names = (symbol for symbol in sp.numbered_symbols(PIECEWISE_PREFIX, real=True) if str(symbol) not in taken)
    lifter = _Lifter(names)
    assignments = []
    for assignment in program.assignments:
        expr = lifter.lift(assignment.expr, whole=True)
        assignments.extend(lifter.take())
        assignments.append(Assignment(assignment.target, expr))
    blocks = []
    for block in program.blocks:
        entries = tuple(lifter.lift(sp.sympify(entry)) for entry in block.entries)
        assignments.extend(lifter.take())
        blocks.append(Block(block.name, block.shape, entries))
    return dataclasses.replace(program, assignments=tuple(assignments), blocks=tuple(blocks))


class _Lifter:
    """Replaces Piecewise subexpressions by new symbols, remembering each once."""

    def __init__(self, names):
        self.names = names
        self.pending = []
        self.known = {}

    def lift(self, expr, whole=False):
        """``expr`` with its Piecewise parts replaced; ``whole``: keep a top-level Piecewise."""
        if not expr.has(sp.Piecewise):
            return expr
        args = [self.lift(arg) for arg in expr.args]
        rebuilt = expr.func(*args) if args != list(expr.args) else expr
        if whole or not isinstance(rebuilt, sp.Piecewise):
            return rebuilt
        if rebuilt not in self.known:
            symbol = next(self.names)
            self.pending.append(Assignment(symbol, rebuilt))
            self.known[rebuilt] = symbol
        return self.known[rebuilt]

    def take(self):
        """The assignments created since the last call, in evaluation order."""
        taken, self.pending = self.pending, []
        return taken
