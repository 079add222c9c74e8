"""The functions of a genFunction file: the main function's body, the module
functions after it (the helpers it calls), and what the main function's signature says."""

import re
from dataclasses import dataclass

from ..errors import ModelFormatError, UnsupportedError
from .matlab_lines import at_line
from .matlab_simulation import TIME_SERIES_MESSAGE
from .matlab_syntax import BLOCK_OPENERS, END_WORDS, function_header, parse_statement


def main_function(lines):
    """The first function's header statement and its body as (line, text) pairs."""
    if not lines:
        raise ModelFormatError("no MATLAB code found (a genFunction file defines a function)")
    header = parse_statement(*lines[0])
    if header.kind != "function":
        raise at_line(ModelFormatError("a genFunction file starts with a function definition"), lines[0][0])
    body, closed = _function_body(lines, 1)
    _check_module_functions(lines, 1 + len(body) + closed, closed)
    return header, body


def _function_body(lines, start):
    """Statements of the function starting at ``start`` and whether an 'end' closes it."""
    body, depth = [], 0
    for line, piece in lines[start:]:
        word = re.match(r"[A-Za-z_]\w*", piece)
        word = word.group(0) if word else ""
        if word == "function" and depth == 0:
            return body, False                  # old style: functions without 'end'
        if word in BLOCK_OPENERS:
            depth += 1
        elif piece in END_WORDS:
            if depth == 0:
                return body, True
            depth -= 1
        body.append((line, piece))
    return body, False


def _check_module_functions(lines, position, closed):
    """The rest of the file must be functions, all closed by 'end' or none, as MATLAB requires."""
    while position < len(lines):
        line, piece = lines[position]
        if not re.match(r"function\b", piece):
            raise at_line(ModelFormatError(f"unexpected {piece!r} between functions"), line)
        body, ends = _function_body(lines, position + 1)
        if ends != closed:
            raise at_line(ModelFormatError("some functions of the file end with 'end' and some do not"), line)
        position += 1 + len(body) + ends


@dataclass(frozen=True)
class ModuleFunction:
    """A function after the main one: its header's line, names, and body statements (line, text)."""
    name: str
    line: int
    outputs: tuple
    params: tuple
    body: tuple


def module_functions(lines):
    """{name: ModuleFunction} of the functions after the main one (the helpers genFunction appends)."""
    found, position = {}, 1 + len(_function_body(lines, 1)[0])
    while position < len(lines):
        line, piece = lines[position]
        if not re.match(r"function\b", piece):
            position += 1       # the main function's 'end'
            continue
        name, outputs, params = function_header(parse_statement(line, piece))
        if name in found:
            raise at_line(ModelFormatError(f"the file defines {name!r} twice"), line)
        body = tuple(_function_body(lines, position + 1)[0])
        found[name] = ModuleFunction(name, line, outputs, params, body)
        position += 1 + len(body)
    return found


def check_signature(header, outputs, params, body):
    """Whether the cell form ``[Y,Xf,Af] = f(X,~,~)`` is used; refuses what is out of scope."""
    def fail(error):
        raise at_line(error, header.line)
    if not params or params[0] == "~":
        fail(UnsupportedError("the function takes no network inputs; a network needs at least one"))
    pattern = re.compile(r"(?<![\w.])" + re.escape(params[0]) + r"\s*\{")
    cell_form = any(pattern.search(piece) for _, piece in body)
    if cell_form and len(params) > 3:
        fail(UnsupportedError("a time-series function takes X, Xi and Ai; this one takes more"))
    if not cell_form:
        if any(re.fullmatch(r"[xa]i\d*", p, re.IGNORECASE) and not STATE_PARAM.fullmatch(p) for p in params):
            fail(UnsupportedError(TIME_SERIES_MESSAGE))
        used = network_params(params)
        if "~" in used:
            fail(UnsupportedError("an ignored parameter '~' before a network input is not supported"
                                  " (only the delay states after the inputs may be ignored)"))
    if not network_outputs(outputs, cell_form):
        fail(UnsupportedError("the function returns nothing"))
    return cell_form


#: matrix form of a time series: xi1 (initial states of input 1), ai2 (of layer 2)
STATE_PARAM = re.compile(r"(?P<kind>[xa])i(?P<index>[1-9]\d*)")


def state_params(params, cell_form):
    """{name: ("input" or "layer", 0-based index)} of the matrix form's initial-state parameters."""
    if cell_form:
        return {}
    found = {}
    for name in params:
        match = STATE_PARAM.fullmatch(name)
        if match:
            found[name] = ("input" if match["kind"] == "x" else "layer", int(match["index"]) - 1)
    return found


def network_params(params):
    """The parameters without the trailing '~': ``f(x1,~,~)`` ignores its delay states,
    so a network without delays may be written with the time-series signature."""
    params = list(params)
    while params and params[-1] == "~":
        params.pop()
    return tuple(params)


def state_outputs(outputs, cell_form):
    """Outputs that return final delay states (Xf, Af, xf1, ...) in the matrix form."""
    if cell_form:
        return ()
    return tuple(o for o in outputs if re.fullmatch(r"[xa]f\d*", o, re.IGNORECASE))


def network_outputs(outputs, cell_form):
    states = state_outputs(outputs, cell_form)
    return tuple(o for o in outputs if o not in states)
