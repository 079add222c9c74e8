"""The subset of MATLAB syntax that genFunction files use, read without running it.

Statements come from matlab_lines; here:
  * ``tokenize`` turns a statement into tokens (a bracketed ``[...]`` is one token:
    in these files it only ever holds numbers, whose whitespace rules differ);
  * ``parse_statement`` builds a small AST (frozen dataclasses below).
Numbers are read by Python's ``float``, which rounds every decimal string correctly.
"""

import re
from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedError
from .matlab_lines import SyntaxProblem, matching_bracket, string_end


# --- AST ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True, eq=False)
class Literal:
    """A number or a numeric matrix, always held as a 2-D float array."""
    value: np.ndarray


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Call:
    """``f(args)``: a call or an index, which MATLAB does not tell apart either."""
    target: object
    args: tuple


@dataclass(frozen=True)
class CellIndex:
    target: object
    args: tuple


@dataclass(frozen=True)
class Field:
    target: object
    name: str


@dataclass(frozen=True)
class Binary:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Unary:
    op: str
    operand: object


@dataclass(frozen=True)
class Transpose:
    operand: object


@dataclass(frozen=True)
class CellLiteral:
    items: tuple


@dataclass(frozen=True)
class Handle:
    name: str


@dataclass(frozen=True)
class Colon:
    """A bare ``:`` inside an index."""


@dataclass(frozen=True)
class Statement:
    line: int
    kind: str          # "function", "assign", "expr", or a keyword: "if", "for", "end", ...
    text: str
    target: object = None
    value: object = None


KEYWORDS = frozenset("if elseif else end for parfor while switch case otherwise try catch "
                     "return break continue global persistent function".split())
BLOCK_OPENERS = frozenset("if for parfor while switch try".split())
END_WORDS = frozenset("end endif endfor endwhile endfunction endswitch end_try_catch".split())
ALONE = frozenset("else otherwise try break continue return".split())     # keywords without an argument


# --- tokens ---------------------------------------------------------------------------------

# A '.' right before an operator belongs to the operator: 10.^x is 10 .^ x.
_DOT = r"\.(?![*/\\^'])"
_NUMBER = r"(?:\d+(?:" + _DOT + r"\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>""" + _NUMBER + r""")(?P<suffix>(?:[A-Za-z_\d]|""" + _DOT + r""")*)
  | (?P<name>[A-Za-z_]\w*)
  | (?P<op>==|~=|!=|<=|>=|&&|\|\||\.\*|\./|\.\\|\.\^|\.'|[-+*/\\^<>&|~!=(){},;:.@'"\[])
""", re.VERBOSE)
_ENDS_VALUE = {"name", "number", "matrix", ")", "}", "'", ".'", "string"}


def tokenize(text, line):
    """[(kind, value)]: kinds name, number, string, matrix (raw text inside [ ]), or the operator."""
    tokens, i = [], 0
    while i < len(text):
        match = _TOKEN.match(text, i)
        if not match:
            raise SyntaxProblem(f"unexpected character {text[i]!r}", line)
        kind = match.lastgroup if match.lastgroup != "suffix" else "number"
        if kind == "space":
            i = match.end()
            continue
        if match.group("number") is not None:
            if match.group("suffix"):
                raise SyntaxProblem(f"malformed number {match.group(0)!r}", line)
            tokens.append(("number", match.group("number")))
        elif kind == "name":
            tokens.append(("name", match.group("name")))
        else:
            op = match.group("op")
            previous = tokens[-1][0] if tokens else None
            if op in ("'", '"') and not (op == "'" and previous in _ENDS_VALUE):
                end = string_end(text, i, line)
                tokens.append(("string", text[i + 1:end].replace(op * 2, op)))
                i = end + 1
                continue
            if op == "[":
                end = matching_bracket(text, i, line)
                tokens.append(("matrix", text[i + 1:end]))
                i = end + 1
                continue
            tokens.append((op, op))
        i = match.end()
    return tokens


# --- numbers ----------------------------------------------------------------------------------

_NUMBER_ONLY = re.compile(r"[+-]?" + _NUMBER + r"\Z")
_NOT_FINITE = re.compile(r"[+-]?(inf|nan)\Z", re.IGNORECASE)


def number(text, line):
    """One finite double from its decimal text."""
    if _NOT_FINITE.match(text):
        raise SyntaxProblem(f"{text} is not a usable weight or setting (only finite numbers are)", line)
    if not _NUMBER_ONLY.match(text):
        raise SyntaxProblem(f"malformed number {text!r}", line)
    return float(text)


def _elements(row, line):
    items = re.split(r"\s*,\s*|\s+", row)
    items = items[1:] if items[0] == "" else items
    items = items[:-1] if items and items[-1] == "" else items
    if "" in items:
        raise SyntaxProblem("two commas with no number between them", line)
    return items


def matrix(text, line):
    """The 2-D array written inside ``[ ]``: rows split by ';', elements by spaces or commas."""
    rows = [row for row in (r.strip() for r in text.split(";")) if row]
    values = [[number(item, line) for item in _elements(row, line)] for row in rows]
    if not values:
        return np.zeros((0, 0))
    if len({len(row) for row in values}) != 1:
        raise SyntaxProblem("matrix rows have different lengths", line)
    return np.array(values, dtype=float)


# --- parser -----------------------------------------------------------------------------------

_BINARY = {"||": 1, "&&": 2, "|": 3, "&": 4, "<": 5, "<=": 5, ">": 5, ">=": 5, "==": 5, "~=": 5,
           "!=": 5, ":": 6, "+": 7, "-": 7, "*": 8, "/": 8, ".*": 8, "./": 8, "\\": 8, ".\\": 8,
           "^": 10, ".^": 10}
_UNARY_PRECEDENCE = 9


#: deepest expression tree read: genFunction files nest a few levels; past this a hostile file
#: (100k parentheses, a million-term sum) would exhaust the recursion of the parser and reader
MAX_DEPTH = 200


class _Parser:
    """Recursive descent that carries each node's depth, refusing one deeper than MAX_DEPTH."""

    def __init__(self, tokens, line):
        self.tokens, self.position, self.line = tokens, 0, line
        self.depths = {}   # id(node) -> depth of its tree, for nodes built here

    def deeper(self, node, *children):
        """``node`` after checking that it, one above its deepest child, stays within MAX_DEPTH."""
        depth = 1 + max((self.depths.get(id(child), 1) for child in children), default=0)
        if depth > MAX_DEPTH:
            raise SyntaxProblem(f"expression nested more than {MAX_DEPTH} deep", self.line)
        self.depths[id(node)] = depth
        return node

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def take(self, expected=None):
        kind, value = self.peek()
        if expected is not None and kind != expected:
            found = "the end of the statement" if kind is None else repr(value)
            raise SyntaxProblem(f"expected {expected!r}, found {found}", self.line)
        self.position += 1
        return kind, value

    def done(self):
        return self.position >= len(self.tokens)

    def expression(self, floor=0, nesting=0):
        if nesting > MAX_DEPTH:
            raise SyntaxProblem(f"expression nested more than {MAX_DEPTH} deep", self.line)
        left = self.unary(nesting)
        while True:
            kind, _ = self.peek()
            precedence = _BINARY.get(kind)
            if precedence is None or precedence <= floor:
                return left
            self.take()
            right = self.expression(precedence, nesting + 1)
            left = self.deeper(Binary(kind, left, right), left, right)

    def unary(self, nesting):
        kind, _ = self.peek()
        if kind in ("-", "+", "~", "!"):
            self.take()
            operand = self.expression(_UNARY_PRECEDENCE, nesting + 1)
            if kind in "+-" and isinstance(operand, Literal):
                return Literal(operand.value if kind == "+" else -operand.value)
            return self.deeper(Unary("~" if kind == "!" else kind, operand), operand)
        return self.postfix(self.primary(nesting), nesting)

    def primary(self, nesting):
        kind, value = self.take()
        if kind == "number":
            return Literal(np.array([[number(value, self.line)]]))
        if kind == "matrix":
            return Literal(matrix(value, self.line))
        if kind == "string":
            return Text(value)
        if kind == "name":
            return Name(value)
        if kind == "(":
            inner = self.expression(nesting=nesting + 1)
            self.take(")")
            return inner
        if kind == "{":
            return self.arguments_node(CellLiteral, (), "}", nesting)
        if kind == "@":
            if self.peek()[0] == "name":
                return Handle(self.take()[1])
            raise UnsupportedError("anonymous functions are not supported")
        found = "the end of the statement" if kind is None else repr(value)
        raise SyntaxProblem(f"unexpected {found}", self.line)

    def postfix(self, node, nesting):
        while True:
            kind, _ = self.peek()
            if kind == "(":
                self.take()
                node = self.arguments_node(Call, (node,), ")", nesting)
            elif kind == "{":
                self.take()
                node = self.arguments_node(CellIndex, (node,), "}", nesting)
            elif kind == "." and self.position + 1 < len(self.tokens) and self.tokens[self.position + 1][0] == "name":
                self.take()
                node = self.deeper(Field(node, self.take("name")[1]), node)
            elif kind in ("'", ".'"):
                self.take()
                node = self.deeper(Transpose(node), node)
            else:
                return node

    def arguments_node(self, kind, leading, closing, nesting):
        """``kind(*leading, arguments)`` for the arguments up to ``closing``, its depth checked."""
        args = self.arguments(closing, nesting + 1)
        return self.deeper(kind(*leading, args), *leading, *args)

    def arguments(self, closing, nesting=0):
        args = []
        if self.peek()[0] == closing:
            self.take()
            return tuple(args)
        while True:
            if self.peek()[0] == ":" and self.tokens[self.position + 1:self.position + 2] in ([(",", ",")], [(closing, closing)]):
                self.take()
                args.append(Colon())
            else:
                args.append(self.expression(nesting=nesting))
            kind, _ = self.take()
            if kind == closing:
                return tuple(args)
            if kind != ",":
                raise SyntaxProblem(f"expected ',' or '{closing}'", self.line)


def parse_expression(text, line):
    parser = _Parser(tokenize(text, line), line)
    node = parser.expression()
    if not parser.done():
        raise SyntaxProblem(f"unexpected {parser.peek()[1]!r}", line)
    return node


def parse_statement(line, text):
    """A Statement: keyword statements keep their text; assignments get target and value nodes."""
    head = re.match(r"[A-Za-z_]\w*", text)
    word = head.group(0) if head else ""
    if word in END_WORDS | ALONE and text != word:
        raise SyntaxProblem(f"unexpected {text[len(word):].strip()!r} after {word}", line)
    if word in END_WORDS:
        return Statement(line, "end", text)
    if word in KEYWORDS:
        return Statement(line, word, text, value=text[len(word):].strip())
    tokens = tokenize(text, line)
    split = _assignment_split(tokens)
    if split is None:
        parser = _Parser(tokens, line)
        node = parser.expression()
        if not parser.done():
            raise SyntaxProblem(f"unexpected {parser.peek()[1]!r}", line)
        return Statement(line, "expr", text, value=node)
    left, right = _Parser(tokens[:split], line), _Parser(tokens[split + 1:], line)
    target, value = left.expression(), right.expression()
    for parser in (left, right):
        if not parser.done():
            raise SyntaxProblem(f"unexpected {parser.peek()[1]!r}", line)
    return Statement(line, "assign", text, target=target, value=value)


def _assignment_split(tokens):
    depth = 0
    for index, (kind, _) in enumerate(tokens):
        if kind in "({":
            depth += 1
        elif kind in ")}":
            depth -= 1
        elif kind == "=" and depth == 0:
            return index
    return None


_HEADER = re.compile(r"function\s+(?:(?P<outputs>\[[^\]]*\]|[A-Za-z_]\w*)\s*=\s*)?"
                     r"(?P<name>[A-Za-z_]\w*)\s*(?:\((?P<params>[^)]*)\))?\s*\Z")


def function_header(statement):
    """(name, output names, parameter names) of a ``function`` statement; '~' marks an ignored parameter."""
    match = _HEADER.match(statement.text)
    if not match:
        raise SyntaxProblem("cannot read this function header", statement.line)
    outputs = tuple(re.split(r"\s*,\s*|\s+", (match.group("outputs") or "").strip("[] ")))
    params = tuple(p.strip() for p in (match.group("params") or "").split(","))
    outputs, params = (() if names == ("",) else names for names in (outputs, params))
    for name in outputs + params:
        if not re.fullmatch(r"[A-Za-z_]\w*|~", name):
            raise SyntaxProblem(f"{name!r} is not a valid argument name", statement.line)
    return match.group("name"), outputs, params
