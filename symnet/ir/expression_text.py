"""Element-wise expressions of one symbol ``n`` as text, both ways, exactly and safely.

An ``expression`` transfer function (an activation that an exporter wrote as a
small element-wise subgraph, such as ONNX's decomposed GELU) is stored in a
model file as text like ``0.5*n*(erf(0.7071067932881648*n) + 1)``.

``to_text`` prints every double with the shortest repr that reads back to the
same bits, so ``from_text(to_text(e)) == e``.  ``from_text`` never calls
``eval`` or sympy's ``parse_expr`` (both run arbitrary code): it walks Python's
syntax tree and builds sympy objects from a fixed list of operators and
functions, with limits on length, size and exponents so that a hostile file
cannot make sympy work for ever.
"""

import ast
import math

import sympy as sp
from sympy.printing.str import StrPrinter

from ..errors import ModelFormatError

SYMBOL = sp.Symbol("n", real=True)

#: functions an expression may call (all printable by every target)
FUNCTIONS = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh, "sinh": sp.sinh,
    "cosh": sp.cosh, "sin": sp.sin, "cos": sp.cos, "atan": sp.atan, "erf": sp.erf, "Abs": sp.Abs,
}
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.BitAnd: sp.And, ast.BitOr: sp.Or}
_COMPARE = {ast.Lt: sp.StrictLessThan, ast.LtE: sp.LessThan, ast.Gt: sp.StrictGreaterThan,
            ast.GtE: sp.GreaterThan}

MAX_TEXT = 20_000
MAX_NODES = 2_000
MAX_EXPONENT = 64

#: Largest expression ``composed`` builds, well inside what ``from_text`` takes: importers
#: continue a longer chain of element-wise operations as a new layer.
MAX_COMPOSED_NODES = 200
MAX_COMPOSED_DEPTH = 40


class _ExactPrinter(StrPrinter):
    def _print_Float(self, expr):
        return repr(float(expr))


def to_text(expr):
    """The canonical text of an element-wise expression of ``n``."""
    return _ExactPrinter().doprint(expr)


def from_text(text):
    """The sympy expression of ``text``; ModelFormatError names what is not allowed."""
    return expression_of(text, {"n": SYMBOL}, "element-wise expression", "n alone")


def expression_of(text, symbols, what, alone):
    """The sympy expression of ``text`` over the named ``symbols`` ({name: Symbol}, besides
    pi and E), parsed as ``from_text`` parses; errors call it ``what`` and say that it must be
    an expression of ``alone``."""
    if not isinstance(text, str):
        raise ModelFormatError(f"an {what} must be text")
    if len(text) > MAX_TEXT:
        raise ModelFormatError(f"{what} longer than {MAX_TEXT} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise ModelFormatError(f"{what} {_short(text)!r} is not valid: {error}")
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ModelFormatError(f"{what} has more than {MAX_NODES} parts")
    try:
        expr = _Builder(text, symbols, what).build(tree.body)
    except RecursionError:
        raise ModelFormatError(f"{what} is nested too deeply")
    extra = expr.free_symbols - set(symbols.values()) if isinstance(expr, sp.Basic) else set()
    if extra or not isinstance(expr, sp.Expr):
        raise ModelFormatError(f"{what} {_short(text)!r} must be a number-valued expression of {alone}")
    return expr


def canonical_text(text):
    """Parse and print again: the stored form of an expression given as text or sympy."""
    expr = text if isinstance(text, sp.Basic) else from_text(text)
    return to_text(expr)


def composed(function, argument):
    """``function(argument)`` as one expression of ``n``, or None where that would grow past
    ``MAX_COMPOSED_NODES`` / ``MAX_COMPOSED_DEPTH``, or past the sizes of its two parts.

    A piecewise argument is composed branch by branch and folded (``piecewise_fold``): applied
    directly, a piecewise function would hold its argument's ``Piecewise`` twice (in a
    condition, as ``ITE``, and in a value), doubling the expression with each ReLU or clip.
    Branch by branch, relu(relu(n)) folds back to relu(n)."""
    if argument.has(sp.Piecewise):
        folded = sp.piecewise_fold(argument)
        pieces = folded.args if isinstance(folded, sp.Piecewise) else ((folded, sp.true),)
        expr = sp.piecewise_fold(sp.Piecewise(*[(function(piece), condition) for piece, condition in pieces]))
        if _nodes(expr, MAX_COMPOSED_NODES) > _nodes(argument, MAX_COMPOSED_NODES) + _nodes(function(SYMBOL)):
            return None   # the branches multiplied: the caller makes two layers of it
    else:
        expr = sp.sympify(function(argument))
    return expr if _nodes(expr, MAX_COMPOSED_NODES, MAX_COMPOSED_DEPTH) <= MAX_COMPOSED_NODES else None


def _nodes(expr, limit=None, max_depth=None):
    """The number of nodes of ``expr`` (no recursion), counting stops past ``limit``;
    past ``max_depth`` levels the count is ``limit + 1``."""
    stack, count = [(expr, 1)], 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if limit is not None and (count > limit or (max_depth is not None and depth > max_depth)):
            return limit + 1
        stack.extend((arg, depth + 1) for arg in node.args)
    return count


def _short(text):
    return text if len(text) <= 60 else text[:57] + "..."


class _Builder:
    """Builds sympy objects from a Python syntax tree, refusing anything not listed."""

    def __init__(self, text, symbols, what):
        self.text = text
        self.names = {"pi": sp.pi, "E": sp.E, **symbols}
        self.what = what

    def refuse(self, what):
        raise ModelFormatError(f"{self.what} {_short(self.text)!r}: {what} is not allowed")

    def build(self, node):
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            self.refuse(f"syntax {type(node).__name__}")
        return method(node)

    def _Constant(self, node):
        value = node.value
        if isinstance(value, bool):
            return sp.true if value else sp.false
        if not isinstance(value, (int, float)):
            self.refuse(f"the constant {value!r}")
        if isinstance(value, float):
            if not math.isfinite(value):
                self.refuse("a non-finite number")
            return sp.Float(value)
        return sp.Integer(value)

    def _Name(self, node):
        if node.id not in self.names:
            self.refuse(f"the name {node.id!r}")
        return self.names[node.id]

    def _UnaryOp(self, node):
        operand = self.build(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Invert):
            return sp.Not(operand)
        self.refuse(f"the operator {type(node.op).__name__}")

    def _BinOp(self, node):
        left, right = self.build(node.left), self.build(node.right)
        if isinstance(node.op, ast.Pow):
            if right.is_Number and abs(right) > MAX_EXPONENT:
                self.refuse(f"an exponent larger than {MAX_EXPONENT}")
            return left ** right
        operation = _BINARY.get(type(node.op))
        if operation is None:
            self.refuse(f"the operator {type(node.op).__name__}")
        return operation(left, right)

    def _Compare(self, node):
        if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
            self.refuse("this comparison")
        return _COMPARE[type(node.ops[0])](self.build(node.left), self.build(node.comparators[0]))

    def _Call(self, node):
        if not isinstance(node.func, ast.Name) or node.keywords:
            self.refuse("this call")
        name = node.func.id
        if name == "Piecewise":
            return sp.Piecewise(*[self._pair(arg) for arg in node.args])
        if name not in FUNCTIONS or len(node.args) != 1:
            self.refuse(f"the function {name!r}")
        return FUNCTIONS[name](self.build(node.args[0]))

    def _pair(self, node):
        if not isinstance(node, ast.Tuple) or len(node.elts) != 2:
            self.refuse("a Piecewise argument that is not an (expression, condition) pair")
        return self.build(node.elts[0]), self.build(node.elts[1])
