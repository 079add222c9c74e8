"""What a genFunction simulation computes, found by following its data flow.

Each statement of the main function is interpreted over *descriptions* of
values, never over numbers: a variable holds a network input with the
processing steps applied so far, a weighted sum b + W*x + ..., the output of
a layer with the output steps undone so far, a constant, or boilerplate (cell
handling, sample counts). Names are only names: ``a2 = tansig_apply(...)``
makes a new layer because of what it computes, not because it is called a2.
Anything the reader does not understand is refused with its line.
"""

import re
from dataclasses import replace

from ..errors import ModelFormatError, UnsupportedError
from .matlab_delays import DelayBook, DelaySlot, DelayStatements, InitialState, Taps, delay_slot
from .matlab_helpers import HelperCall
from .matlab_syntax import (Binary, Call, CellIndex, CellLiteral, Field, Handle, Literal, Name, Text,
                            Transpose, Unary, parse_expression)
from .matlab_values import (NOT_FINITE, STEP_FIELDS, Boilerplate, Constant, InputSignal, LayerSignal, LayerSpec,
                            Observation, StepSpec, Struct, Term, WeightedSum, as_sum, is_one, literal_array,
                            setting_field, sum_parts, transposed)

APPLY_HELPERS = {f"{kind}_apply": kind for kind in STEP_FIELDS}
REVERSE_HELPERS = {f"{kind}_reverse": kind for kind in STEP_FIELDS}
TRANSFER_NAMES = ("purelin", "tansig", "logsig", "poslin", "satlin", "satlins", "radbas", "elliotsig",
                  "softmax")
TRANSFER_HELPERS = {name + suffix: name for name in TRANSFER_NAMES for suffix in ("_apply", "")}
BOILERPLATE_CALLS = frozenset(("iscell", "isempty", "cell", "cell2mat", "numel", "zeros"))
BUILTIN_CALLS = BOILERPLATE_CALLS | {"repmat", "bsxfun", "size"}
TIME_SERIES = re.compile(r"(Xi|Ai|[XxAa]d\d*|tapdelay\d*|[xa]dts|mod)\Z")
TIME_SERIES_MESSAGE = ("time-series networks are read from the cell form [Y,Xf,Af] = f(X,Xi,Ai) only;"
                       " this file uses delay states outside it")
COMPARISONS = frozenset(("<", "<=", ">", ">=", "==", "~="))


def refuse(problem):
    raise UnsupportedError(problem)


# --- the interpreter -------------------------------------------------------------------------------

class Simulation(DelayStatements):
    """Runs the main function's statements over value descriptions (the delay buffers of a
    time-series network: matlab_delays.DelayStatements)."""

    def __init__(self, params, outputs, cell_form, defined=frozenset(), state_params=None):
        self.params, self.outputs, self.cell_form = params, outputs, cell_form
        self.state_params = state_params or {}      # matrix form: xi1 -> ("input", 0), ai2 -> ("layer", 1)
        self.defined = defined      # names of the functions the file defines
        self.constants, self.structs, self.env = {}, {}, {}
        self.layers, self.observations = [], []
        self.cell_inputs, self.cell_outputs = {}, {}
        self.output_lines, self.input_chains = {}, {}
        self.seen_inputs = set()
        self.helper_calls = []      # what each helper the file defines is taken to compute
        self.samples_as_rows = None
        self.line, self.blocks = 0, []
        self.delays = DelayBook()   # delay buffers of a time-series network
        self.final_names = set()    # the names the final-state statements define

    # statements
    def run(self, statement):
        self.line = statement.line
        kind = statement.kind
        if kind == "assign":
            self.assign(statement.target, statement.value)
        elif kind in ("if", "elseif"):
            if kind == "elseif" and self.blocks[-1:] != ["if"]:
                raise ModelFormatError("elseif outside an if block")
            self.require_boilerplate(parse_expression(statement.value, self.line), statement.text)
            self.blocks += ["if"] if kind == "if" else []
        elif kind == "else":
            if self.blocks[-1:] != ["if"]:
                raise ModelFormatError("else outside an if block")
            self.blocks[-1] = "else"
        elif kind == "for":
            self.blocks.append(self.time_loop(statement.value))
        elif kind == "end" and self.blocks:
            if self.blocks.pop() in ("time loop", "initial loop"):
                self.end_loop()
        elif kind == "expr" and self.blocks[-1:] == ["if"] and isinstance(statement.value, Call) and \
                statement.value.target == Name("error") and all(isinstance(a, Text) for a in statement.value.args):
            return      # argument checks: if (nargin < 2), error('...'); end
        else:
            refuse(f"unsupported statement {statement.text!r}")

    def time_loop(self, text):
        variable, _, span = text.strip("() ").partition("=")
        node = parse_expression(span, self.line) if span else None
        if not (re.fullmatch(r"\s*[A-Za-z_]\w*\s*", variable) and isinstance(node, Binary) and node.op == ":"
                and is_one(literal_array(node.left))):
            refuse(f"unsupported loop 'for {text}' (only the time loop 'for ts=1:TS' is read)")
        count = literal_array(node.right)
        if self.cell_form and count is not None and count.size == 1 and not self.blocks:
            self.delays.initial_loops.append((self.line, int(count[0, 0])))
            self.env[variable.strip()] = Boilerplate("initial step")      # over the initial delay states
            return "initial loop"
        if self.value(node.right) != Boilerplate("time steps") or self.blocks:
            refuse(f"unsupported loop 'for {text}' (only the time loop 'for ts=1:TS' is read)")
        self.env[variable.strip()] = Boilerplate("time step")
        return "time loop"

    def end_loop(self):
        """After a loop its step (and the rotating positions of the time loop) index nothing."""
        for name, value in list(self.env.items()):
            if value in (Boilerplate("time step"), Boilerplate("initial step")) or isinstance(value, DelaySlot):
                self.env[name] = Boilerplate("after the loop")

    def require_boilerplate(self, node, text):
        if isinstance(node, Unary):
            node = node.operand
        if not isinstance(self.value(node), Boilerplate):
            refuse(f"unsupported condition {text!r}")

    def assign(self, target, node):
        literal = literal_array(node)
        if isinstance(target, Name):
            self.assign_name(target.id, node, literal)
        elif isinstance(target, Field) and isinstance(target.target, Name) and literal is not None:
            self.structs.setdefault(target.target.id, {})[target.name] = literal
        elif isinstance(target, CellIndex) and isinstance(target.target, Name):
            self.assign_cell(target, node)
        elif isinstance(target, Call) and isinstance(target.target, Name) and self.state_params:
            self.assign_column(target, node)
        else:
            refuse("unsupported assignment: only constants, variables and the cells X{i,ts}/Y{i,ts} are read")

    def assign_name(self, name, node, literal):
        if self.cell_form and self.delays.new_buffer(name, node, self.line, self.blocks):
            self.env[name] = Boilerplate("delay buffer")
            return
        slot = delay_slot(node)
        if slot is not None and self.env.get(slot[1]) == Boilerplate("time step"):
            self.env[name] = slot[0]
            return
        if literal is not None:
            if self.blocks[-1:] == ["else"]:
                return      # Q = 0 when there are no inputs: not a constant of the network
            self.constants[name] = literal
            self.env.pop(name, None)
            return
        if isinstance(node, CellLiteral):
            if self.cell_form and node.items == (Name(self.params[0]),) and self.blocks[-1:] in (["if"], ["else"]):
                return      # if ~isCellX, X = {X}; end: a matrix argument is wrapped into a cell
            refuse("cell arrays other than X = {X} are not supported")
        value = self.value(node)
        if value in (Boilerplate("cell"), Boilerplate("zeros")) and "time loop" in self.blocks:
            refuse(f"{name} is allocated inside a loop, which would empty it at every step")
        if "time loop" in self.blocks and name in self.outputs and isinstance(value, Boilerplate):
            refuse(f"the output {name} is replaced inside the time loop")
        if value == Boilerplate("time steps") and self.blocks:
            refuse(f"{name}, the number of time steps, is set inside a loop or condition")
        if isinstance(value, WeightedSum) and not value.name:
            value.name = name
        if isinstance(value, LayerSignal) and not self.layers[value.layer].name:
            self.layers[value.layer] = replace(self.layers[value.layer], name=name)
        self.env[name] = value
        if name in self.outputs and not isinstance(value, Boilerplate):
            self.output_lines[name] = self.line

    def assign_cell(self, target, node):
        name = target.target.id
        if name in self.delays.buffers:
            self.write_buffer(name, self.buffer_position(target), node)
            return
        index, value = self.cell_row(target), self.value(node)
        if self.cell_form and name == self.params[0]:
            if not isinstance(value, InputSignal) or value.input != index:
                refuse(f"{name}{{{index + 1},...}} may only be transposed in place")
            self.cell_inputs[index] = value
        elif name in self.outputs:
            self.cell_outputs[index] = value
            self.output_lines[index] = self.line
        else:
            self.refuse_name(name)
            refuse(f"unsupported assignment to the cell {name!r}")

    # expressions
    def value(self, node):
        if isinstance(node, Literal):
            return Constant("", node.value)
        if isinstance(node, Name):
            return self.name_value(node.id)
        if isinstance(node, CellIndex):
            return self.cell_value(node)
        if isinstance(node, Call):
            return self.call_value(node)
        if isinstance(node, Binary):
            return self.binary_value(node)
        if isinstance(node, Transpose):
            value = self.value(node.operand)
            return transposed(self.as_layer(value) if isinstance(value, WeightedSum) else value)
        if isinstance(node, Field) and isinstance(node.target, Name) and node.target.id in self.structs:
            fields = self.structs[node.target.id]
            if node.name in fields:
                return Constant(f"{node.target.id}.{node.name}", fields[node.name])
        refuse("unsupported expression")

    def name_value(self, name):
        if name in self.env:
            return self.env[name]
        if name in self.constants:
            return Constant(name, self.constants[name])
        if name in self.structs:
            return Struct(name)
        if name in self.state_params:
            kind, index = self.state_params[name]
            return InputSignal(index, initial=True) if kind == "input" else InitialState(kind, index)
        if name in self.params:
            if self.cell_form:
                return Boilerplate("input cell")
            return InputSignal(self.params.index(name))
        if name == "nargin":
            return Boilerplate("argument count")
        if name in NOT_FINITE:
            raise ModelFormatError(f"{name} is not a usable weight or setting (only finite numbers are)")
        self.refuse_name(name)
        raise ModelFormatError(f"{name!r} is used before it is given a value")

    def refuse_name(self, name):
        if TIME_SERIES.match(name):
            refuse(TIME_SERIES_MESSAGE)

    def cell_row(self, node, step=Boilerplate("time step")):
        if not node.args or literal_array(node.args[0]) is None or literal_array(node.args[0]).size != 1:
            refuse("cell indices must start with a number, as in X{1,ts}")
        if len(node.args) > 2 or len(node.args) == 2 and not (
                isinstance(node.args[1], Name) and self.env.get(node.args[1].id) == step):
            refuse("cell indices must be {i} or {i,ts} with ts the time step")
        row = float(literal_array(node.args[0]).reshape(-1)[0])
        if row != int(row) or row < 1:
            raise ModelFormatError(f"cell index {row!r} is not a positive whole number")
        return int(row) - 1

    def cell_value(self, node):
        name = node.target.id if isinstance(node.target, Name) else None
        if name in self.delays.buffers:
            return self.buffer_value(name, self.buffer_position(node))
        if self.cell_form and name in self.params[1:3]:
            kind = "input" if name == self.params[1] else "layer"
            index = self.cell_row(node, Boilerplate("initial step"))
            return InputSignal(index, initial=True) if kind == "input" else InitialState(kind, index)
        if self.cell_form and name == self.params[0]:
            index = self.cell_row(node)
            self.seen_inputs.add(index)
            return self.cell_inputs.get(index, InputSignal(index))
        if name in self.outputs:
            return self.cell_outputs.get(self.cell_row(node), Boilerplate("output cell"))
        if name is not None:
            self.refuse_name(name)
        refuse("unsupported cell indexing")

    def call_value(self, node):
        if not isinstance(node.target, Name):
            refuse("unsupported call")
        name, args = node.target.id, node.args
        if self.state_params and (name in self.delays.buffers or name in self.params):
            return self.column_value(name, args)
        if self.state_params and name == "reshape" and name not in self.defined:
            return self.delays.reshaped_taps(node, self.env, self.line)
        if name in self.env or name in self.constants or name in self.params:
            refuse(f"indexing into {name!r} is not supported")
        if name in self.defined and name in BUILTIN_CALLS:
            refuse(f"the file defines its own {name!r}; symnet reads only MATLAB's")
        if name.endswith(("_apply", "_reverse")) and name not in self.defined and (
                name in APPLY_HELPERS or name in REVERSE_HELPERS or name in TRANSFER_HELPERS):
            raise ModelFormatError(f"{name} is called but the file does not define it")
        if name in APPLY_HELPERS:
            return self.apply_step(APPLY_HELPERS[name], name, args)
        if name in REVERSE_HELPERS:
            return self.reverse_step(REVERSE_HELPERS[name], name, args)
        if name in TRANSFER_HELPERS:
            return self.transfer(TRANSFER_HELPERS[name], name, args)
        if name == "repmat" and len(args) == 3:
            return self.repeated_bias(args)
        if name == "bsxfun" and len(args) == 3 and args[0] == Handle("plus"):
            return self.add(self.value(args[1]), self.value(args[2]))
        if name == "size" and len(args) == 2:
            return self.size_value(args)
        if name == "cat" and name not in self.defined:
            return self.delays.taps(node, self.env)
        if name == "mod" and name not in self.defined:
            refuse("mod is read only in a rotating delay position such as xdts = mod(ts+1,3)+1"
                   " and in the tap positions of a delay buffer")
        if name in BOILERPLATE_CALLS:
            for arg in args:
                self.value(arg)         # the names it is given must exist
                size = literal_array(arg) if name in ("cell", "zeros") else None
                if size is not None and (size.size != 1 or size[0, 0] < 0 or size[0, 0] != int(size[0, 0])):
                    refuse(f"{name} is given a size that is not a whole number")
            return Boilerplate(name)
        self.refuse_name(name)
        known = sorted(set(APPLY_HELPERS) | set(REVERSE_HELPERS) | set(TRANSFER_HELPERS))
        refuse(f"unknown function or helper {name!r} (symnet reads: {', '.join(known)})")

    def repeated_bias(self, args):
        """repmat(b1,1,Q): the bias, once per sample."""
        once, times = literal_array(args[1]), self.value(args[2])
        if once is None or once.shape != (1, 1) or once[0, 0] != 1 or times != Boilerplate("samples"):
            refuse("repmat must repeat a bias once per sample, as in repmat(b1,1,Q)")
        return self.value(args[0])

    def size_value(self, args):
        subject, dimension = self.value(args[0]), literal_array(args[1])
        if dimension is None or dimension.shape != (1, 1) or dimension[0, 0] not in (1, 2):
            refuse("size must be taken along dimension 1 or 2")
        if isinstance(subject, InitialState) or isinstance(subject, InputSignal) and subject.initial:
            return Boilerplate("samples")
        if isinstance(subject, InputSignal) and self.state_params and dimension[0, 0] == 2:
            return Boilerplate("time steps")        # matrix form of a time series: one series
        if isinstance(subject, InputSignal):
            self.samples_as_rows = dimension[0, 0] == 1
            return Boilerplate("samples")
        if subject == Boilerplate("input cell") and dimension[0, 0] == 2:
            return Boilerplate("time steps")
        refuse("size is only read of an input, as in Q = size(x1,2)")

    def binary_value(self, node):
        if node.op == "+":
            return self.add(self.value(node.left), self.value(node.right))
        if node.op == "*":
            return self.product(self.value(node.left), self.value(node.right))
        if node.op in COMPARISONS and all(isinstance(self.value(n), (Boilerplate, Constant))
                                          for n in (node.left, node.right)):
            return Boilerplate("condition")
        refuse(f"unsupported operator {node.op!r} in the simulation")

    def add(self, left, right):
        return WeightedSum(*sum_parts(as_sum(left), as_sum(right)), line=self.line)

    def product(self, weights, signal):
        if not isinstance(weights, Constant):
            refuse("a product must be a weight matrix times a signal, as in IW1_1*xp1")
        if isinstance(signal, Taps):
            return Term("tap", signal, weights.value, weights.name)
        if isinstance(signal, InputSignal) and signal.initial:
            refuse("initial delay states Xi may only fill a delay buffer")
        if isinstance(signal, InputSignal):
            self.use_input(signal, weights.name or "a weight matrix")
            return Term("input", signal.input, weights.value, weights.name)
        layer = self.as_layer(signal)
        if layer.undone or layer.transposed:
            refuse("an output after its output processing cannot feed another layer")
        return Term("layer", layer.layer, weights.value, weights.name)

    def use_input(self, signal, user):
        chain = self.input_chains.setdefault(signal.input, signal.steps)
        if len(chain) != len(signal.steps) or any(a is not b for a, b in zip(chain, signal.steps)):
            refuse(f"input {signal.input + 1} reaches the layers with two different processing chains")
        self.observations.append(Observation(self.line, f"input {signal.input + 1} (used by {user})",
                                             signal.transposed))

    def as_layer(self, value):
        if isinstance(value, LayerSignal):
            return value
        if isinstance(value, WeightedSum):
            if value.layer is None:
                value.layer = len(self.layers)
                self.layers.append(LayerSpec("purelin", value, value.line, value.name))
            return LayerSignal(value.layer)
        refuse("expected the output of a layer here")

    # helpers
    def apply_step(self, kind, helper, args):
        signal = self.value(args[0]) if args else None
        if not isinstance(signal, InputSignal):
            refuse(f"{helper} must be applied to a network input")
        spec = self.settings(kind, helper, args[1:], reverse=False)
        self.observations.append(Observation(self.line, f"input {signal.input + 1}", signal.transposed))
        return replace(signal, steps=signal.steps + (spec,))

    def reverse_step(self, kind, helper, args):
        if not args:
            refuse(f"{helper} needs an argument")
        layer = self.as_layer(self.value(args[0]))
        spec = self.settings(kind, helper, args[1:], reverse=True)
        return LayerSignal(layer.layer, layer.undone + (spec,), layer.transposed)

    def transfer(self, name, helper, args):
        if len(args) != 1:
            refuse(f"{helper} takes one argument here")
        total = self.value(args[0])
        if isinstance(total, Constant):
            total = WeightedSum(total.value, (), self.line)
        if not isinstance(total, WeightedSum):
            refuse(f"{helper} must be applied to a weighted sum such as repmat(b1,1,Q) + IW1_1*xp1")
        self.layers.append(LayerSpec(name, total, self.line, ""))
        self.helper_calls.append(HelperCall(helper, name))
        return LayerSignal(len(self.layers) - 1)

    def settings(self, kind, helper, nodes, reverse):
        """The settings of one step, matched to their fields by name; the helper's body is
        then checked (matlab_helpers) with each argument in the position it is passed."""
        if not nodes:
            refuse(f"{helper} needs its settings")
        found, owners, roles = {}, set(), []
        for node in nodes:
            owner, role = self.read_setting(kind, helper, node, found)
            owners.add(owner)
            roles.append(role)
        if len(owners) != 1:
            refuse(f"{helper} mixes settings of different steps: {', '.join(sorted(o[1] for o in owners))}")
        style, prefix = owners.pop()
        for name in STEP_FIELDS[kind]:      # settings not passed to the helper, such as the removed rows
            if name not in found:
                value = (self.structs.get(prefix, {}).get(name) if style == "struct"
                         else self.constants.get(f"{prefix}_{name}"))
                if value is not None:
                    found[name] = value
        self.helper_calls.append(HelperCall(helper, kind, True, reverse, tuple(roles), tuple(sorted(found))))
        return StepSpec(kind, found, prefix, self.line)

    def read_setting(self, kind, helper, node, found):
        if isinstance(node, Name) and node.id in self.structs:
            found.update({k: v for k, v in self.structs[node.id].items() if k in STEP_FIELDS[kind]})
            return ("struct", node.id), "struct"
        if isinstance(node, Field) and isinstance(node.target, Name) and node.target.id in self.structs:
            fields = self.structs[node.target.id]
            if node.name not in fields:
                raise ModelFormatError(f"{node.target.id}.{node.name} is never set")
            found[node.name] = fields[node.name]
            return ("struct", node.target.id), node.name
        if isinstance(node, Name) and node.id in self.constants:
            name = setting_field(kind, node.id)
            if name is None:
                fields = ", ".join("_" + f for f in STEP_FIELDS[kind])
                raise ModelFormatError(
                    f"cannot tell which {kind} setting {node.id!r} is (expected a name ending in {fields})")
            if name in found:
                raise ModelFormatError(f"{helper} is given its {name} twice")
            found[name] = self.constants[node.id]
            return ("flat", node.id[:-len(name) - 1]), name
        if isinstance(node, Name) and node.id in NOT_FINITE | set(self.env):
            self.name_value(node.id)
        refuse(f"cannot read the settings passed to {helper}: expected constants such as x1_step1")
