"""The straight-line program every emitter consumes.

A program is a list of scalar assignments ``target = expr`` in evaluation
order, plus named output blocks (value, gradient, jacobian, hessian) whose
entries are expressions of the inputs and the assigned symbols.
"""

from dataclasses import dataclass

import numpy as np
import sympy as sp


@dataclass(frozen=True)
class Assignment:
    """``target = expr``.  ``partials`` may state some partial derivatives
    ∂target/∂symbol in a cheaper, proven-equal form (tanh' = 1 - a**2)."""

    target: sp.Symbol
    expr: sp.Expr
    partials: tuple = ()


@dataclass(frozen=True)
class Block:
    """A named output of the program: ``entries`` in row-major order of ``shape``."""

    name: str
    shape: tuple
    entries: tuple

    def as_array(self):
        return np.array(self.entries, dtype=object).reshape(self.shape)


@dataclass(frozen=True)
class Program:
    """``arguments``: ((name, symbols), ...), the extra arguments after the inputs that the
    entries read (a JVP's direction v; symnet.ir.derivative_spec)."""

    inputs: tuple
    assignments: tuple
    blocks: tuple
    arguments: tuple = ()

    def block(self, name):
        for block in self.blocks:
            if block.name == name:
                return block
        raise KeyError(name)

    @property
    def block_names(self):
        return tuple(block.name for block in self.blocks)

    def operation_count(self):
        """Arithmetic operations in the whole program (sympy's count_ops)."""
        expressions = [a.expr for a in self.assignments]
        expressions += [e for block in self.blocks for e in block.entries]
        return int(sum(sp.count_ops(e) for e in expressions))

    def inlined(self):
        """Every block entry with all assignments substituted, left unevaluated:
        the closed form as one sympy expression per entry (sharing subtrees)."""
        values = {}
        with sp.evaluate(False):
            for assignment in self.assignments:
                values[assignment.target] = assignment.expr.xreplace(values)
            return tuple(
                Block(block.name, block.shape, tuple(sp.sympify(e).xreplace(values) for e in block.entries))
                for block in self.blocks)
