"""The delay bookkeeping of genFunction files of dynamic networks (timedelaynet, narxnet,
layrecnet), as the simulation (matlab_simulation) meets it.

MATLAB's genFunction keeps the last D+1 processed values of input k in a cell ``Xd<k>``
and the last L+1 outputs of a fed-back layer j in ``Ad<j>``, written at a rotating
position::

    Xd1 = cell(1,3);                                       % a delay buffer (D+1 = 3)
    for ts=1:2, Xd1{ts} = mapminmax_apply(Xi{1,ts},x1_step1); end    % initial states
    for ts=1:TS
        xdts = mod(ts+1,3)+1;                              % where x(t) goes
        Xd1{xdts} = mapminmax_apply(X{1,ts},x1_step1);
        tapdelay1 = cat(1,Xd1{mod(xdts-[1 2]-1,3)+1});     % [x(t-1); x(t-2)]
        a1 = tansig_apply(repmat(b1,1,Q) + IW1_1*tapdelay1);
        Ad2{adts} = repmat(b2,1,Q) + LW2_1*a1;             % a fed-back layer
    end

Each construct is recognised by its form; what it computes is then a value the simulation
already knows (an input with its processing, a layer's output) or a ``Taps`` value: some
delays of one buffer, stacked. The final-state lines (``Xf = [Xi(:,xits) X(:,xts)]``) only
copy states: MATLAB's state advance is the definition symnet uses (symnet.ir.delays).
"""

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelFormatError, SymnetError, UnsupportedError
from .matlab_lines import at_line
from .matlab_syntax import Binary, Call, CellIndex, Colon, Literal, Name
from .matlab_values import Boilerplate, InputSignal, LayerSignal, WeightedSum, literal_array

#: the statements that copy the final delay states into Xf and Af, exactly as genFunction writes
#: them: (pattern, the name it defines, the names it needs, whose delay count its numbers give)
_S = r"\s*"
FINAL_STATE_STATEMENTS = tuple((re.compile(pattern.replace(" ", _S)), defines, needs, count) for
                               pattern, defines, needs, count in (
    (r" finalxts = TS \+ \( 1 : (?P<n>\d+) \) ", "finalxts", ("TS",), "input"),
    (r" finalats = TS \+ \( 1 : (?P<n>\d+) \) ", "finalats", ("TS",), "layer"),
    (r" xits = finalxts \( finalxts <= (?P<n>\d+) \) ", "xits", ("finalxts",), "input"),
    (r" xts = finalxts \( finalxts > (?P<n>\d+) \) - (?P<m>\d+) ", "xts", ("finalxts",), "input"),
    (r" ats = mod \( finalats - 1 , (?P<n_plus_1>\d+) \) \+ 1 ", "ats", ("finalats",), "layer"),
    (r" Xf = \[ Xi \( : , xits \) ,? X \( : , xts \) \] ", "Xf", ("xits", "xts"), None),
    (r" xf(?P<k>\d+) = \[ xi(?P=k) \( : , xits \) ,? x(?P=k) \( : , xts \) \] ", "xf{k}", ("xits", "xts"), None),
    (r" Af \( (?P<j>\d+) , : \) = Ad(?P=j) \( : , ats \) ", "", ("ats", "Af"), None),
    (r" af(?P<j>\d+) = ad(?P=j) \( : , ats \) ", "af{j}", ("ats",), None),
))


#: matrix form: ``xd1 = [xd1 zeros(2,1)]`` or ``ad2 = [ai2 zeros(1,1)]`` makes a delay buffer
BUFFER_LINE = re.compile(r"\s*(?P<name>[A-Za-z_]\w*)\s*=\s*\[\s*(?P<source>[A-Za-z_]\w*)\s*,?\s*"
                         r"zeros\s*\(\s*(?P<rows>\d+)\s*,\s*1\s*\)\s*\]\s*")


@dataclass(frozen=True)
class DelaySlot:
    """``xdts = mod(ts+N-2,N)+1``: where the current value goes in a buffer of length N."""
    length: int


@dataclass(frozen=True)
class InitialState:
    """``Xi{k,ts}`` or ``Ai{j,ts}`` inside the loop over the initial states."""
    kind: str       # "input" or "layer"
    index: int      # 0-based


@dataclass(frozen=True)
class Taps:
    """``cat(1, Xd1{mod(xdts-[1 2]-1,3)+1})``: the buffer's values at these delays, stacked."""
    buffer: str
    delays: tuple


@dataclass
class Buffer:
    """A delay buffer ``Xd<k>``/``Ad<j>`` and what was found to be written to it."""
    name: str
    length: int
    line: int
    source: object = None       # ("input", k) or ("layer", j) once the current value is written
    current: object = None      # the current value (InputSignal or LayerSignal)
    rows: int = 0               # matrix form: the rows of one value
    read: bool = False          # whether a tap delay line reads it
    initial: object = None      # ("input", k, steps) or ("layer", j) from the initial-state loop


@dataclass
class DelayBook:
    """Everything delay-related the simulation met, by buffer name."""
    buffers: dict = field(default_factory=dict)
    initial_loops: list = field(default_factory=list)      # (line, count) of 'for ts=1:count'

    def new_buffer(self, name, node, line, blocks):
        """``Xd1 = cell(1,N)``: a buffer, if ``node`` is such a call (else False)."""
        if not (isinstance(node, Call) and node.target == Name("cell") and len(node.args) == 2):
            return False
        if blocks:
            raise UnsupportedError(f"the delay buffer {name} is made inside a loop or condition")
        rows, length = (literal_array(a) for a in node.args)
        if rows is None or length is None or rows.size != 1 or length.size != 1 or rows[0, 0] != 1 or \
                length[0, 0] < 2 or length[0, 0] != int(length[0, 0]):
            return False        # not a delay buffer, which holds the current value and at least one delay
        self.buffers[name] = Buffer(name, int(length[0, 0]), line)
        return True

    def matrix_buffer(self, name, initial, rows, line, blocks=()):
        """Matrix form: a buffer of ``rows`` rows starting with the initial states ``initial``;
        its length is that of the rotating position it is used with."""
        if name in self.buffers:
            raise ModelFormatError(f"the delay buffer {name} is made twice")
        if blocks:
            raise UnsupportedError(f"the delay buffer {name} is made inside a loop or condition")
        buffer = Buffer(name, None, line, rows=rows)
        buffer.initial = _initial_source(buffer, initial)
        self.buffers[name] = buffer

    def reshaped_taps(self, node, env, line):
        """``reshape(xd1(:,mod(xdts-[1 2]-1,3)+1),4,1)``: the matrix form of a tap delay line."""
        args = node.args
        if len(args) != 3 or not isinstance(args[0], Call) or not isinstance(args[0].target, Name) or \
                args[0].target.id not in self.buffers or len(args[0].args) != 2:
            raise UnsupportedError("reshape is read only as reshape(xd1(:,mod(xdts-[1 2]-1,3)+1),rows,1)")
        buffer = self.buffers[args[0].target.id]
        delays = _tap_delays(args[0].args[1], buffer, env)
        buffer.read = True
        if buffer.source is None and min(delays) == 0:
            raise ModelFormatError(f"{buffer.name} is read at delay 0 before its current value is written")
        if not (_is_literal(args[1], buffer.rows * len(delays)) and _is_literal(args[2], 1)):
            raise ModelFormatError(f"{len(delays)} taps of {buffer.name} ({buffer.rows} rows) are"
                                   f" reshaped to another size than {buffer.rows * len(delays)}x1")
        return Taps(buffer.name, delays)

    def write(self, buffer, index_value, value, line):
        """``Xd1{ts} = ...`` (an initial state) or ``Xd1{xdts} = ...`` (the current value)."""
        if index_value == Boilerplate("initial step"):
            buffer.initial = _initial_source(buffer, value)
            return
        if isinstance(index_value, DelaySlot) and buffer.length is None:
            buffer.length = index_value.length
        if not isinstance(index_value, DelaySlot) or index_value.length != buffer.length:
            raise UnsupportedError(f"{buffer.name} is written at a position other than its rotating slot")
        if isinstance(value, InputSignal):
            source = ("input", value.input)
        elif isinstance(value, LayerSignal) and not value.undone and not value.transposed:
            source = ("layer", value.layer)
        else:
            raise UnsupportedError(f"{buffer.name} must hold a processed input or a layer's output")
        if buffer.source not in (None, source):
            raise UnsupportedError(f"{buffer.name} is given two different signals")
        buffer.source, buffer.current = source, value

    def taps(self, node, env):
        """The Taps of ``cat(1, B{mod(slot-[d...]-1,N)+1})``."""
        if len(node.args) != 2 or not _is_literal(node.args[0], 1) or not isinstance(node.args[1], CellIndex):
            raise UnsupportedError("cat is read only as cat(1,Xd1{mod(xdts-[1 2]-1,3)+1})")
        cell = node.args[1]
        buffer = self.buffers.get(cell.target.id) if isinstance(cell.target, Name) else None
        if buffer is None or len(cell.args) != 1:
            raise UnsupportedError("cat must stack the values of a delay buffer such as Xd1")
        delays = _tap_delays(cell.args[0], buffer, env)
        buffer.read = True
        if buffer.source is None and min(delays) == 0:
            raise ModelFormatError(f"{buffer.name} is read at delay 0 before its current value is written")
        return Taps(buffer.name, delays)

    def check(self):
        """Every buffer used consistently; returns {source: buffer}."""
        found = {}
        for buffer in self.buffers.values():
            try:
                self._check_buffer(buffer, found)
            except SymnetError as error:
                raise at_line(error, buffer.line)
        for line, count in self.initial_loops:
            if not any(b.length == count + 1 for b in self.buffers.values()):
                raise at_line(ModelFormatError(f"the loop over {count} initial states fits no delay buffer"), line)
        return found

    def _check_buffer(self, buffer, found):
        if buffer.source is None and not buffer.read:
            return          # a buffer the simulation never uses (of a layer without delays)
        if buffer.source is None:
            raise ModelFormatError(f"the delay buffer {buffer.name} is never given a current value")
        if buffer.initial is None:
            raise ModelFormatError(f"the delay buffer {buffer.name} is never given initial states")
        kind, index = buffer.source
        if buffer.initial[:2] != buffer.source:
            raise ModelFormatError(f"{buffer.name} starts with the states of {buffer.initial[0]}"
                                   f" {buffer.initial[1] + 1} but holds {kind} {index + 1}")
        if kind == "input" and not _same_steps(buffer.initial[2], buffer.current.steps):
            raise ModelFormatError(f"the initial states in {buffer.name} are processed differently"
                                   " from the input")
        if buffer.source in found:
            raise ModelFormatError(f"{kind} {index + 1} has two delay buffers")
        found[buffer.source] = buffer


def delay_slot(node):
    """``mod(ts+N-2,N)+1`` as a DelaySlot, else None."""
    if not (isinstance(node, Binary) and node.op == "+" and _is_literal(node.right, 1)):
        return None
    call = node.left
    if not (isinstance(call, Call) and call.target == Name("mod") and len(call.args) == 2):
        return None
    total, length = call.args[0], literal_array(call.args[1])
    if length is None or length.size != 1:
        return None
    n = int(length[0, 0])
    if isinstance(total, Name) and n == 2:
        return DelaySlot(n), total.id          # mod(ts,2)+1: one delay
    if not isinstance(total, Binary) or total.op != "+":
        return None
    offset = literal_array(total.right)
    if not (isinstance(total.left, Name) and offset is not None and offset.size == 1 and offset[0, 0] == n - 2
            and n >= 2):
        return None
    return DelaySlot(n), total.left.id


def _tap_delays(node, buffer, env):
    """[d...] from ``mod(slot-[d...]-1,N)+1`` with slot the buffer's rotating position."""
    try:
        call = node.left
        inner, length = call.args
        slot, delays = inner.left.left, literal_array(inner.left.right)
        assert node.op == "+" and _is_literal(node.right, 1) and call.target == Name("mod")
        if buffer.length is None and isinstance(env.get(slot.id), DelaySlot):
            buffer.length = env[slot.id].length     # a matrix-form buffer read before it is written
        assert inner.op == "-" and _is_literal(inner.right, 1) and inner.left.op == "-"
        assert env.get(slot.id) == DelaySlot(buffer.length) and _is_literal(length, buffer.length)
    except (AttributeError, AssertionError, TypeError, ValueError):
        raise UnsupportedError(f"{buffer.name} must be read at mod(slot-[delays]-1,{buffer.length})+1"
                               " with slot its rotating position") from None
    values = np.reshape(delays, -1)
    if values.size == 0 or np.any(values != np.round(values)) or np.any(values < 0) or np.any(
            values >= buffer.length) or len(set(values)) != values.size:
        shown = [int(v) if v == int(v) else v for v in values]
        raise ModelFormatError(f"tap delays {shown} do not fit the delay buffer {buffer.name}"
                               f" of {buffer.length} values")
    return tuple(int(v) for v in values)


def _initial_source(buffer, value):
    if isinstance(value, InitialState) and value.kind == "layer":
        return ("layer", value.index)
    if isinstance(value, InputSignal) and value.initial:
        return ("input", value.input, value.steps)
    raise UnsupportedError(f"the initial states of {buffer.name} must be Xi{{k,ts}} (processed) or Ai{{j,ts}}")


def _same_steps(a, b):
    return len(a) == len(b) and all(x.kind == y.kind and x.name == y.name for x, y in zip(a, b))


def _is_literal(node, number):
    value = literal_array(node) if isinstance(node, Literal) else None
    return value is not None and value.size == 1 and value[0, 0] == number


class DelayStatements:
    """The statements of a time-series simulation that touch delay buffers; mixed into
    matlab_simulation.Simulation, whose ``value``, ``as_layer`` and state they use."""

    def write_buffer(self, name, position, node):
        """``Xd1{xdts} = ...`` / ``xd1(:,xdts) = ...`` (or ``{ts}`` in the initial-state loop)."""
        value = self.value(node)
        value = self.as_layer(value) if isinstance(value, WeightedSum) else value
        self.delays.write(self.delays.buffers[name], position, value, self.line)

    def buffer_value(self, name, position):
        """A buffer's current value, read at its rotating position."""
        buffer = self.delays.buffers[name]
        if position != DelaySlot(buffer.length):
            raise UnsupportedError(f"{name} is read at a position other than its rotating slot")
        if buffer.current is None:
            raise UnsupportedError(f"{name} is read before its current value is written")
        return buffer.current

    def buffer_position(self, node):
        if len(node.args) != 1 or not isinstance(node.args[0], Name):
            raise UnsupportedError("a delay buffer is indexed by its position alone, as in Xd1{xdts}")
        return self.value(node.args[0])

    # the matrix-only form: xi1/ai2 arguments, columns as time steps
    def assign_column(self, target, node):
        """``xd1(:,xdts) = ...`` or ``y1(:,ts) = ...``."""
        name = target.target.id
        if len(target.args) != 2 or target.args[0] != Colon() or not isinstance(target.args[1], Name):
            raise UnsupportedError(f"unsupported assignment to {name}(...): only {name}(:,ts) is read")
        position = self.value(target.args[1])
        if name in self.delays.buffers:
            self.write_buffer(name, position, node)
        elif name in self.outputs and position == Boilerplate("time step"):
            self.assign_name(name, node, None)
        else:
            raise UnsupportedError(f"unsupported assignment to {name}(:,...)")

    def extend_buffer(self, name, source, rows):
        """``xd1 = [xd1 zeros(2,1)]``: the initial states and a column for the current value."""
        self.delays.matrix_buffer(name, self.name_value(source), rows, self.line, self.blocks)
        self.env.pop(name, None)

    def final_state(self, text):
        """Whether ``text`` copies final delay states into Xf/Af (then checked: after the time loop,
        its names given values before, its delay counts those of the buffers); symnet's state
        advance is MATLAB's rule, so these lines are not simulated."""
        for pattern, defines, needs, count in FINAL_STATE_STATEMENTS:
            match = pattern.fullmatch(text)
            if match:
                break
        else:
            return False
        if self.blocks or not self.delays.buffers:
            raise UnsupportedError("final delay states are copied only after the time loop")
        given = self.final_names | {name for name in ("TS", "Af") if self.env.get(name) in (
            Boilerplate("time steps"), Boilerplate("cell"))}
        missing = [name for name in needs if name not in given]
        if missing:
            raise ModelFormatError(f"{missing[0]!r} is used before it is given a value")
        numbers = [int(v) - (name == "n_plus_1") for name, v in match.groupdict().items() if v and name[0] in "nm"]
        lengths = {b.length - 1 for b in self.delays.buffers.values() if b.source and b.source[0] == count}
        if count and (len(lengths) != 1 or set(numbers) != lengths):
            raise ModelFormatError(f"the final {count} states are copied for {numbers[0]} delays, but the"
                                   f" delay buffers hold {sorted(lengths) or 'none'}")
        layer = match.groupdict().get("j")
        if layer and ("layer", int(layer) - 1) not in {b.source for b in self.delays.buffers.values()}:
            raise ModelFormatError(f"layer {layer} has no delay states to copy")
        if defines:
            self.final_names.add(defines.format(**match.groupdict()))
        return True

    def column_value(self, name, args):
        """``x1(:,ts)`` (the input at the time step) or ``ad2(:,adts)`` (a buffer's current value)."""
        if len(args) != 2 or args[0] != Colon() or not isinstance(args[1], Name):
            raise UnsupportedError(f"{name} is read only as {name}(:,ts) or at its rotating position")
        position = self.value(args[1])
        if name in self.params and position == Boilerplate("time step"):
            self.seen_inputs.add(self.params.index(name))
            return InputSignal(self.params.index(name))
        if name not in self.delays.buffers:
            raise UnsupportedError(f"{name} is read only as {name}(:,ts)")
        return self.buffer_value(name, position)
