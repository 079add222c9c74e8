"""User expressions of a network's outputs and their partial derivatives: a cost
``cost = sum((y - t)**2)`` or a PDE residual ``r = y_t + y*y_x - nu*y_xx``.

The text is parsed by Python's ``ast`` and converted node by node into sympy, with a
whitelist: numbers, + - * / **, the functions of FUNCTIONS, ``sum`` over the outputs, and
the names below; nothing is evaluated, so no name reaches Python.  Names:

* ``y`` (the outputs: a vector, or a number for one output), ``y1``, ``y2``, ... and the
  model's output names where each output is one number (symnet.ir.derivative_spec);
* a partial derivative: an output name, ``_``, then the inputs it is differentiated by
  (``y_t``, ``y_xx``, ``u_xt``, ``y1_x1x2``, ``y_x1x1``), inputs named as in the spec;
* parameters, given with their sizes (``t`` of 3 numbers: a vector; of 1: a number).

Vectors combine element by element (sizes must agree); the expression must come out as
one number.
"""

import ast
import re
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import UnsupportedError
from .derivative_spec import scalar_names

#: The functions an expression may call, element by element.
FUNCTIONS = {"sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt,
             "tanh": sp.tanh, "sinh": sp.sinh, "cosh": sp.cosh, "abs": sp.Abs}
_OPERATORS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
              ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}


@dataclass(frozen=True)
class Quantity:
    """One derivative the expression reads: output ``output`` (0-based) differentiated by
    ``inputs`` (0-based, ascending; empty: the output itself)."""

    output: int
    inputs: tuple

    @property
    def symbol(self):
        return sp.Symbol(f"q_{self.output}_" + "_".join(str(k) for k in self.inputs), real=True)


@dataclass(frozen=True)
class UserExpression:
    """``expression`` (sympy) of the Quantity symbols and the parameter symbols."""

    name: str
    expression: sp.Expr
    quantities: tuple          # (Quantity, ...) in order of first appearance
    parameters: tuple          # ((name, size, (symbols...)), ...) in the order given


def parse_expression(text, net, parameters=()):
    """The UserExpression of ``text`` (``name = expression`` or an expression alone) for
    ``net``; ``parameters``: ((name, size), ...).  A one-line UnsupportedError names an
    unknown name, a call that is not allowed or a result that is not one number."""
    text = str(text).strip()
    name, _, body = text.rpartition("=") if re.match(r"\s*[A-Za-z_]\w*\s*=[^=]", text) else ("", "", text)
    name = name.strip() or "expression"
    try:
        tree = ast.parse(body.strip(), mode="eval")
    except SyntaxError as error:
        raise UnsupportedError(f"expression {text!r}: not a formula ({error.msg})") from None
    converter = _Converter(net, parameters, text)
    value = converter.convert(tree.body)
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise UnsupportedError(f"expression {text!r}: the result has {value.size} values, not one"
                                   " (sum over the outputs with sum(...))")
        value = value.reshape(-1)[0]
    parameter_symbols = tuple((p, size, converter.parameter_symbols[p]) for p, size in parameters)
    return UserExpression(name, sp.sympify(value), tuple(converter.quantities), parameter_symbols)


class _Converter:
    """ast node -> sympy expression, or an object array of them (a vector)."""

    def __init__(self, net, parameters, text):
        self.text, self.net = text, net
        self.outputs = scalar_names(net.outputs, net.n_outputs, "y")
        self.inputs = scalar_names(net.inputs, net.n_inputs, "x")
        self.quantities = []
        self.parameter_symbols = {}
        for name, size in parameters:
            if not re.fullmatch(r"[A-Za-z_]\w*", name) or name in self.outputs or name in FUNCTIONS:
                raise UnsupportedError(f"parameter {name!r}: not a name of its own (an identifier that is not"
                                       " an output or a function)")
            symbols = tuple(sp.Symbol(f"{name}_{i}", real=True) for i in range(int(size)))
            self.parameter_symbols[name] = symbols

    def refuse(self, problem):
        raise UnsupportedError(f"expression {self.text!r}: {problem}")

    def convert(self, node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return sp.Float(node.value) if isinstance(node.value, float) else sp.Integer(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return self.combine(_OPERATORS[type(node.op)], self.convert(node.left), self.convert(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.convert(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords \
                and len(node.args) == 1:
            return self.call(node.func.id, self.convert(node.args[0]))
        self.refuse(f"{ast.unparse(node)!r} is not allowed (numbers, + - * / **, names and"
                    f" {', '.join(('sum',) + tuple(FUNCTIONS))} of one argument)")

    def combine(self, operator, left, right):
        if isinstance(left, np.ndarray) and isinstance(right, np.ndarray) and left.shape != right.shape:
            self.refuse(f"vectors of {left.size} and {right.size} values combined")
        return operator(left, right)

    def call(self, function, argument):
        if function == "sum":
            return sp.Add(*argument.reshape(-1)) if isinstance(argument, np.ndarray) else argument
        if function not in FUNCTIONS:
            self.refuse(f"unknown function {function!r} (allowed: sum, {', '.join(FUNCTIONS)})")
        if isinstance(argument, np.ndarray):
            return np.array([FUNCTIONS[function](a) for a in argument], dtype=object)
        return FUNCTIONS[function](argument)

    def name(self, name):
        if name in self.parameter_symbols:
            symbols = self.parameter_symbols[name]
            return symbols[0] if len(symbols) == 1 else np.array(symbols, dtype=object)
        output, derivative = name, ""
        if name not in self.outputs:   # the longest output name (or y) before an underscore
            prefixes = [o for o in sorted(set(self.outputs) | {"y"}, key=len, reverse=True) if name.startswith(o + "_")]
            if prefixes:
                output, derivative = prefixes[0], name[len(prefixes[0]) + 1:]
        inputs = self.derivative_inputs(name, derivative) if derivative else ()
        if output == "y" and self.net.n_outputs > 1:
            return np.array([self.quantity(i, inputs) for i in range(self.net.n_outputs)], dtype=object)
        if output not in self.outputs:
            self.refuse(f"unknown name {name!r} (outputs: {', '.join(self.outputs)}; parameters:"
                        f" {', '.join(self.parameter_symbols) or 'none'}; derivatives such as y_x1x2)")
        return self.quantity(self.outputs[output], inputs)

    def derivative_inputs(self, name, text):
        by_length = sorted(self.inputs, key=len, reverse=True)
        inputs = []
        while text:
            match = next((n for n in by_length if text.startswith(n)), None)
            if match is None:
                self.refuse(f"unknown input in {name!r} at {text!r} (the inputs are {', '.join(self.inputs)})")
            inputs.append(self.inputs[match])
            text = text[len(match):]
        return tuple(sorted(inputs))

    def quantity(self, output, inputs):
        quantity = Quantity(output, inputs)
        if quantity not in self.quantities:
            self.quantities.append(quantity)
        return quantity.symbol
