"""Run a genFunction helper's body on stand-in values, as MATLAB would, without MATLAB.

The subset read is what helpers have been written with: assignments (also to
``a(mask)`` and ``x(rows,:)``), ``if``/``else`` blocks, element-wise
arithmetic and functions, ``bsxfun``, ``arrayfun``, ``repmat``, ``max``/``min``/
``sum`` along a dimension, ``find``, ``isnan``/``isfinite``, ``size``, ``nan``,
and calls of the file's other functions. Anything else (``system``, ``eval``,
loops, global state, a function the file does not define) is refused with its
line: it could make the helper compute something the reader cannot see.
Functions the file defines come first, as in MATLAB, even before built-ins.
"""

import numpy as np

from ..errors import SymnetError, UnsupportedError
from .matlab_helper_builtins import BUILTINS
from .matlab_helper_math import Logical, Masked
from .matlab_lines import at_line
from .matlab_syntax import (Binary, Call, Colon, Field, Handle, Literal, Name, Text, Transpose, Unary,
                            parse_expression, parse_statement)

_ELEMENTWISE = {"+": np.add, "-": np.subtract, ".*": np.multiply, "./": np.divide}
_HANDLE_OPERATORS = {"plus": "+", "minus": "-", "times": ".*", "rdivide": "./", "power": ".^", "eq": "==",
                     "ne": "~=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "max": "max", "min": "min"}
_MAX_DEPTH = 8
_CONSTANTS = {"nan": np.nan, "NaN": np.nan, "inf": np.inf, "Inf": np.inf, "pi": np.pi, "eps": np.finfo(float).eps}


def refuse(problem):
    raise UnsupportedError(problem)


class Struct(dict):
    """A settings structure: field name -> array."""


class HelperRun:
    """Calls of the file's functions on one kind of numbers (matlab_helper_math)."""

    def __init__(self, functions, math):
        self.functions, self.math, self.depth = functions, math, 0
        self.output_lines = {}      # function name -> line that last set its output

    # functions
    def call(self, name, args):
        function = self.functions[name]
        if len(args) > len(function.params):
            refuse(f"{name} takes {len(function.params)} arguments but is given {len(args)}")
        if self.depth >= _MAX_DEPTH:
            refuse(f"{name}: calls nested more than {_MAX_DEPTH} deep")
        env = {param: value for param, value in zip(function.params, args) if param != "~"}
        self.depth += 1
        try:
            self.run_block(_blocks(function.body), env, name)
        finally:
            self.depth -= 1
        output = function.outputs[0] if function.outputs else None
        if output not in env:
            raise at_line(UnsupportedError(f"{name} never sets its output {output or ''}".strip()), function.line)
        return env[output]

    def run_block(self, items, env, name):
        for item in items:
            if isinstance(item, _If):
                self.run_if(item.branches, item.otherwise, env, name)
                continue
            try:
                self.run_statement(item, env, name)
            except SymnetError as error:
                raise at_line(error, item.line)
            except (ArithmeticError, ValueError, TypeError, IndexError, RecursionError) as error:
                raise at_line(UnsupportedError(f"cannot read this line of {name} ({type(error).__name__})"),
                              item.line)

    def run_if(self, branches, otherwise, env, name):
        (line, condition, items), rest = branches[0], branches[1:]
        try:
            truth = self.math.truth(self.logical(self.value(parse_expression(condition, line), env)))
        except SymnetError as error:
            raise at_line(error, line)
        if truth is True or truth is False:
            chosen = items if truth else None
            if chosen is not None:
                return self.run_block(chosen, env, name)
            if rest:
                return self.run_if(rest, otherwise, env, name)
            return self.run_block(otherwise, env, name)
        taken, skipped = dict(env), dict(env)
        self.run_block(items, taken, name)
        if rest:
            self.run_if(rest, otherwise, skipped, name)
        else:
            self.run_block(otherwise, skipped, name)
        env.clear()
        env.update(self.merged(truth, taken, skipped))

    def merged(self, condition, taken, skipped):
        """Variables after an undecided if: each branch's value where its condition holds."""
        result = {}
        for key in taken.keys() & skipped.keys():
            a, b = taken[key], skipped[key]
            if a is b:
                result[key] = a
            elif isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape:
                mask = Logical(np.full(a.shape, condition, dtype=object))
                result[key] = self.math.where(mask, a, b)
        return result

    def run_statement(self, statement, env, name):
        value = self.value(statement.value, env)
        target = statement.target
        if isinstance(target, Name):
            env[target.id] = value
        elif isinstance(target, Call) and isinstance(target.target, Name) and target.target.id in env:
            env[target.target.id] = self.assigned(env[target.target.id], target.args, value, env)
        else:
            refuse("unsupported assignment")
        variable = target if isinstance(target, Name) else target.target
        if variable.id in self.functions[name].outputs[:1]:
            self.output_lines[name] = statement.line

    def assigned(self, array, args, value, env):
        """``array(args) = value``."""
        array = self.numbers(array)
        value = self.numbers(value) if not isinstance(value, Masked) else value
        indices = [self.value(a, env) if not isinstance(a, Colon) else a for a in args]
        if len(indices) == 1 and isinstance(indices[0], Logical):
            mask = indices[0]
            if mask.array.shape != array.shape:
                refuse("a logical index must have the shape of the array")
            if isinstance(value, Masked):
                if value.mask is not mask and value.mask.array.shape != mask.array.shape:
                    refuse("the two sides select different elements")
                value = value.values
            elif np.shape(value) != (1, 1):
                refuse("only a scalar or the same selection may be assigned to a(mask)")
            return self.math.where(mask, np.broadcast_to(value, array.shape), array)
        if isinstance(value, Masked):
            refuse("unsupported assignment of a selection")
        rows, columns = self.positions(array, indices)
        result = array.copy()
        selected = result[np.ix_(rows, columns)]
        if np.shape(value) not in ((1, 1), selected.shape):
            refuse("the sizes of the two sides of an assignment differ")
        result[np.ix_(rows, columns)] = np.broadcast_to(value, selected.shape)
        return result

    # values
    def value(self, node, env):
        if isinstance(node, Literal):
            return self.math.array(node.value)
        if isinstance(node, Name):
            return self.name_value(node.id, env)
        if isinstance(node, Call) and isinstance(node.target, Name):
            args = [a if isinstance(a, Colon) else self.value(a, env) for a in node.args]
            if node.target.id in env:
                return self.indexed(env[node.target.id], args)
            return self.function_value(node.target.id, args)
        if isinstance(node, Binary):
            if node.op in ("&&", "||", "&", "|"):
                left, right = (self.logical(self.value(n, env)) for n in (node.left, node.right))
                return self.math.logic(node.op[0], left, right)
            return self.binary(node.op, self.value(node.left, env), self.value(node.right, env))
        if isinstance(node, Unary):
            operand = self.value(node.operand, env)
            if node.op == "~":
                return self.math.logic("~", self.logical(operand))
            return self.elementwise(np.negative if node.op == "-" else np.positive, operand)
        if isinstance(node, Transpose):
            return self.numbers(self.value(node.operand, env)).T
        if isinstance(node, Field):
            owner = self.value(node.target, env)
            if not isinstance(owner, Struct) or node.name not in owner:
                refuse(f"unknown field {node.name!r}")
            return owner[node.name]
        if isinstance(node, Handle):
            return node
        if isinstance(node, Text):
            return node.value
        refuse("unsupported expression")

    def name_value(self, name, env):
        if name in env:
            return env[name]
        if name in self.functions:
            return self.call(name, [])
        if name in _CONSTANTS:
            return self.math.full((1, 1), self.math.number(_CONSTANTS[name]))
        refuse(f"{name!r} is used before it is given a value")

    def logical(self, value):
        if isinstance(value, Logical):
            return value
        if isinstance(value, np.ndarray):
            return self.math.relation("~=", value, self.math.full((1, 1), 0))
        refuse("expected a logical value")

    def numbers(self, value):
        if isinstance(value, Logical):
            return self.math.as_numbers(value)
        if isinstance(value, (np.ndarray, Masked)):
            return value
        refuse("expected a numeric value")

    def elementwise(self, function, *values):
        """``function`` of arrays (MATLAB's implicit expansion) or of one selection a(mask)."""
        values = [self.numbers(v) for v in values]
        masks = [v.mask for v in values if isinstance(v, Masked)]
        if masks:
            arrays = [v.values if isinstance(v, Masked) else v for v in values]
            if any(m.array.shape != masks[0].array.shape for m in masks) or any(
                    not isinstance(v, Masked) and np.shape(v) != (1, 1) for v in values):
                refuse("a selection a(mask) may only be combined with scalars and the same selection")
            return Masked(self.elementwise(function, *arrays), masks[0])
        shapes = [np.shape(v) for v in values]
        if any(len({s[k] for s in shapes} - {1}) > 1 for k in (0, 1)):
            refuse(f"arrays of sizes {', '.join('x'.join(map(str, s)) for s in shapes)} do not agree")
        return self.math.apply(function, *values)

    def binary(self, op, left, right):
        if op == ".^":
            return self.elementwise(self.math.functions["power"], left, right)
        if op in _ELEMENTWISE:
            return self.elementwise(_ELEMENTWISE[op], left, right)
        if op in ("==", "~=", "!=", "<", "<=", ">", ">="):
            left, right = self.numbers(left), self.numbers(right)
            if isinstance(left, Masked) or isinstance(right, Masked):
                refuse("comparisons of a selection a(mask) are not read")
            self.elementwise(np.add, left, right)           # the sizes must agree
            return self.math.relation(op, left, right)
        if op in ("*", "/", "^"):
            left_scalar, right_scalar = _is_scalar(left), _is_scalar(right)
            if (op == "*" and (left_scalar or right_scalar) or op == "/" and right_scalar
                    or op == "^" and left_scalar and right_scalar):
                return self.binary("." + op, left, right)
            left, right = self.numbers(left), self.numbers(right)
            if op == "*" and isinstance(left, np.ndarray) and isinstance(right, np.ndarray) \
                    and left.shape[1] == right.shape[0]:
                return np.dot(left, right)
        refuse(f"unsupported operator {op!r}")

    def indexed(self, array, args):
        if isinstance(array, Struct) or not isinstance(array, (np.ndarray, Logical)):
            refuse("unsupported indexing")
        array = self.numbers(array)
        if len(args) == 1 and isinstance(args[0], Logical):
            if args[0].array.shape != array.shape:
                refuse("a logical index must have the shape of the array")
            return Masked(array, args[0])
        rows, columns = self.positions(array, args)
        return array[np.ix_(rows, columns)]

    def positions(self, array, args):
        """0-based (rows, columns) of ``x(rows, columns)``, or of ``x(k)`` in a scalar or vector."""
        if len(args) == 1 and 1 in array.shape and not isinstance(args[0], Colon):
            linear = self.integers(args[0], array.size)
            return ([0], linear) if array.shape[0] == 1 else (linear, [0])
        if len(args) != 2:
            refuse("only x(rows,columns) and x(mask) indexing are read")
        return [list(range(size)) if isinstance(arg, Colon) else self.integers(arg, size)
                for arg, size in zip(args, array.shape)]

    def integers(self, value, size):
        if not isinstance(value, np.ndarray) or isinstance(value, Logical):
            refuse("an index must be whole numbers")
        result = []
        for item in value.T.reshape(-1):
            number = float(item)
            if number != int(number) or not 1 <= number <= size:
                refuse(f"index {number:g} is not a position of an array of {size}")
            result.append(int(number) - 1)
        return result

    def function_value(self, name, args):
        if name in self.functions:
            return self.call(name, args)
        if name in BUILTINS:
            return BUILTINS[name](self, args)
        refuse(f"calls {name!r}, which is not a function symnet reads in a helper")

    def handle_call(self, handle, args):
        """What ``@name`` does to its arguments (for bsxfun and arrayfun)."""
        if not isinstance(handle, Handle):
            refuse("expected a function handle such as @plus")
        if handle.name in self.functions:
            return self.call(handle.name, args)
        operator = _HANDLE_OPERATORS.get(handle.name)
        if operator in ("max", "min"):
            return self.function_value(operator, args)
        if operator is not None and len(args) == 2:
            return self.binary(operator, *args)
        return self.function_value(handle.name, args)


def _is_scalar(value):
    return isinstance(value, np.ndarray) and value.shape == (1, 1) or (
        isinstance(value, Logical) and value.array.shape == (1, 1))


class _If:
    def __init__(self, branches, otherwise):
        self.branches, self.otherwise = branches, otherwise


def _blocks(body):
    """Statements of a body, with if/elseif/else/end gathered into _If items."""
    items, stack = [], []
    current = items
    for line, text in body:
        statement = parse_statement(line, text)
        kind = statement.kind
        if kind == "if":
            block = _If([(line, statement.value, [])], [])
            current.append(block)
            stack.append((block, current))
            current = block.branches[0][2]
        elif kind in ("elseif", "else", "end") and stack:
            block, outer = stack[-1]
            if kind == "elseif":
                block.branches.append((line, statement.value, []))
                current = block.branches[-1][2]
            elif kind == "else":
                current = block.otherwise
            else:
                stack.pop()
                current = outer
        elif kind != "assign":
            raise at_line(UnsupportedError(f"unsupported statement {statement.text!r} in a helper"), line)
        else:
            current.append(statement)
    if stack:
        raise at_line(UnsupportedError("an if block is not closed"), stack[-1][0].branches[0][0])
    return items
