"""MATLAB source text -> statements: comments, continuations and statement separators.

``statements(text)`` strips comments (``%``, ``%{ ... %}``), joins ``...``
continuations and multi-line brackets (a newline inside ``[ ]`` separates
rows), and splits lines at top-level ``;`` and ``,``, keeping the line where
each statement starts. Quotes are told from transposes as MATLAB does: a
quote right after a value is a transpose.
"""

import re

from ..errors import ModelFormatError


class SyntaxProblem(ModelFormatError):
    """Malformed text at a known line (raised with ``line`` so the caller can name the place)."""

    def __init__(self, problem, line=None):
        super().__init__(problem)
        self.line = line


def at_line(error, line):
    """The same error, now remembering the line it is about (unless it knows one already)."""
    if getattr(error, "line", None) is None:
        error.line = line
    return error


# --- lines -> statements --------------------------------------------------------------

# Outside strings only these characters matter; digits, names and spaces are skipped fast.
_EVENT = re.compile(r"\.\.\.|['\"%#()\[\]{};,]")
_OPENERS, _CLOSERS = "([{", ")]}"


def statements(text):
    """[(line number, statement text)] with comments removed and continuations joined."""
    result = []
    pending, start_line, depth, block_comment = [], None, 0, 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped in ("%{", "#{") and not pending:
            block_comment += 1
            continue
        if block_comment:
            block_comment -= stripped in ("%}", "#}")
            continue
        code, continued = _strip_comment(raw, number)
        start_line = number if start_line is None else start_line
        depth += _depth_change(code, number)
        if depth < 0:
            raise SyntaxProblem("unmatched closing bracket", number)
        pending.append(code + (" " if continued else ""))
        if continued:
            continue
        if depth > 0:
            pending.append(";")     # a newline inside [ ] or { } separates rows
            continue
        joined = "".join(pending)
        result.extend((start_line, piece) for piece in _split(joined, start_line) if piece)
        pending, start_line = [], None
    if "".join(pending).strip(" ;"):
        raise SyntaxProblem("unbalanced brackets at the end of the file", start_line)
    return result


def _is_transpose(code, index):
    return index > 0 and (code[index - 1].isalnum() or code[index - 1] in "_)]}.'")


def _events(code, line, start=0):
    """(index, text) of the characters that matter, outside strings."""
    position = start
    while True:
        match = _EVENT.search(code, position)
        if not match:
            return
        token, index = match.group(0), match.start()
        if token == '"' or (token == "'" and not _is_transpose(code, index)):
            position = string_end(code, index, line) + 1
            continue
        yield index, token
        position = match.end()


def _strip_comment(raw, number):
    """Code part of a line and whether it ends with a ``...`` continuation."""
    for index, token in _events(raw, number):
        if token in "%#":
            return raw[:index], False
        if token == "...":
            return raw[:index], True
    return raw, False


def _depth_change(code, number):
    change = 0
    for _, token in _events(code, number):
        change += (token in _OPENERS) - (token in _CLOSERS)
    return change


def _split(code, number):
    """Statements of one logical line, split at top-level ';' and ','."""
    pieces, depth, begin = [], 0, 0
    for index, token in _events(code, number):
        if token in _OPENERS:
            depth += 1
        elif token in _CLOSERS:
            depth -= 1
        elif token in ";," and depth == 0:
            pieces.append(code[begin:index])
            begin = index + 1
    pieces.append(code[begin:])
    result = []
    for piece in (p.strip() for p in pieces):
        head, *rest = piece.split(None, 1)  if piece else ("",)
        if head in ("else", "try", "otherwise") and rest:
            result += [head, rest[0]]       # "else Q = 0" is two statements
        else:
            result.append(piece)
    return result


def string_end(text, start, line):
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                i += 2
                continue
            return i
        i += 1
    raise SyntaxProblem("unterminated string", line)


def matching_bracket(text, start, line):
    depth = 0
    for index, token in _events(text, line, start):
        depth += (token in _OPENERS) - (token in _CLOSERS)
        if depth == 0:
            return index
    raise SyntaxProblem("unmatched '['", line)
