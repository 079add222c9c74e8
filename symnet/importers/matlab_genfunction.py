"""MATLAB ``genFunction`` files (``.m``) as networks.

MATLAB's Deep Learning (formerly Neural Network) Toolbox writes a trained
shallow network as a standalone function: constants first (``b1``, ``IW1_1``,
``LW2_1``, processing settings ``x1_step1`` ...), then a simulation. This
reader splits the text into statements (matlab_lines), parses that subset of
MATLAB (matlab_syntax), finds the main function (matlab_functions), follows the
simulation's data flow (matlab_simulation, over matlab_values), checks that
every helper it calls computes what its name says (matlab_helpers) and builds
the IR (matlab_assembly). It never runs MATLAB, and refuses what it does not understand.

Options (``symnet.load(path, input_sizes=...)``): ``input_sizes`` maps an
input (name such as ``"x1"``, or 1-based number) to its raw row count, or is
a list with one entry per input. It is needed only when removeconstantrows
lists the kept rows alone and the help text does not state the input's size.
"""

import re
from pathlib import Path

import numpy as np

from ..errors import ModelFormatError, SymnetError, UnsupportedError
from .matlab_assembly import network_of
from .matlab_delays import BUFFER_LINE
from .matlab_functions import (check_signature, main_function, module_functions, network_outputs, network_params,
                               state_outputs, state_params)
from .matlab_helpers import check_helper_calls
from .matlab_lines import at_line, statements
from .matlab_simulation import Simulation
from .matlab_syntax import function_header, parse_statement
from .matlab_values import Boilerplate

_HELP_SIZE = re.compile(r"(?:(\d+)\s*x\s*Q|Q\s*x\s*(\d+))\s+matrix,\s*input\s*#\s*(\d+)", re.IGNORECASE)


def load_genfunction(path, input_sizes=None):
    """Read a genFunction ``.m`` file into a Network."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ModelFormatError(f"cannot read: {error.strerror or error}", path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")    # MATLAB on Windows writes its local code page
    try:
        return read_genfunction(text, path.stem, input_sizes)
    except SymnetError as error:
        raise _located(error, path) from None


def read_genfunction(text, name="network", input_sizes=None):
    """The Network described by the text of a genFunction file."""
    lines = statements(text)
    header, body = main_function(lines)
    _, outputs, params = function_header(header)
    cell_form = check_signature(header, outputs, params, body)
    helpers = module_functions(lines)
    states = state_params(params, cell_form)
    simulation = Simulation(tuple(p for p in network_params(params) if p not in states),
                            network_outputs(outputs, cell_form), cell_form, frozenset(helpers), states)
    time_series = cell_form or bool(states)
    for line, piece in body:
        try:
            buffer = BUFFER_LINE.fullmatch(piece) if states else None
            if time_series and simulation.final_state(piece):
                continue
            if buffer:
                simulation.extend_buffer(buffer["name"], buffer["source"], int(buffer["rows"]))
            else:
                simulation.run(parse_statement(line, piece))
        except SymnetError as error:
            raise at_line(error, line)
    if states or cell_form:
        _check_final_states(simulation, state_outputs(outputs, cell_form) or outputs[1:], header.line)
    else:
        _check_empty_states(simulation, state_outputs(outputs, cell_form), header.line)
    check_helper_calls(helpers, simulation.helper_calls)
    return network_of(simulation, name, header.line, _help_sizes(text), input_sizes)


def _check_final_states(simulation, names, header_line):
    """A time series returns its final states (Xf, Af; xf1, af2, ... in the matrix form)."""
    for name in names:
        if name not in simulation.final_names and simulation.env.get(name) != Boilerplate("cell"):
            raise at_line(ModelFormatError(f"output {name!r} is never assigned"), header_line)


def _check_empty_states(simulation, names, header_line):
    """A static network written with the time-series signature returns empty final states."""
    for name in names:
        value = simulation.env.get(name, simulation.constants.get(name))
        if value is None:
            raise at_line(ModelFormatError(f"output {name!r} is never assigned"), header_line)
        if not (isinstance(value, Boilerplate) or np.size(value) == 0):
            raise at_line(UnsupportedError(f"{name} holds delay states, but the function takes none"
                                           " (its delay-state arguments are '~')"), header_line)


def _located(error, path):
    line = getattr(error, "line", None)
    if error.source is not None:
        return error
    located = type(error).__new__(type(error))
    SymnetError.__init__(located, error.problem, f"{path}:{line}" if line else str(path))
    return located


def _help_sizes(text):
    """{input index: (rows, line)} from help lines such as 'X{1,ts} = 263xQ matrix, input #1'."""
    sizes = {}
    for match in _HELP_SIZE.finditer(text):
        rows = int(match.group(1) or match.group(2))
        sizes.setdefault(int(match.group(3)) - 1, (rows, text.count("\n", 0, match.start()) + 1))
    return sizes
