"""The IR built from what a genFunction simulation found (matlab_simulation): inputs with
their processing, layers numbered in the order the file computes them, outputs with their
processing undone; for a time-series network, its one-step map (symnet.ir.delays). Every
problem is named with its line.
"""

from collections.abc import Mapping

import numpy as np

from ..errors import ModelFormatError, SymnetError, UnsupportedError
from ..ir.delays import DynamicLayer, TappedWeights, one_step_network
from ..ir.network import Input, Layer, MapMinMax, MapStd, Network, Output, RemoveConstantRows
from .matlab_lines import at_line
from .matlab_values import Boilerplate, Observation


def network_of(simulation, name, header_line, help_sizes, input_sizes):
    """The Network (static, or a time-series network's one-step map) the simulation describes."""
    assembly = _DynamicAssembly if simulation.delays.buffers else _Assembly
    return assembly(simulation, header_line, help_sizes, input_sizes).network(name)


class _Assembly:
    """Builds the IR from what the simulation found, naming the line of every problem."""

    def __init__(self, simulation, header_line, help_sizes, input_sizes):
        self.sim, self.header_line, self.help_sizes = simulation, header_line, help_sizes
        self.input_sizes = input_sizes

    def fail(self, problem, line=None, kind=ModelFormatError):
        raise at_line(kind(problem), line or self.header_line)

    def network(self, name):
        outputs = self.output_values()
        self.check_layout()
        inputs = [self.input(k) for k in range(self.input_count())]
        # A purelin layer is recognised when its sum is first used, possibly after a later layer:
        # number the layers in the order of the lines that compute them, as the file does.
        order = sorted(range(len(self.sim.layers)), key=lambda i: (self.sim.layers[i].line, i))
        self.renumber = {old: new for new, old in enumerate(order)}
        layers = []
        for old in order:
            layers.append(self.layer(self.sim.layers[old], inputs, layers))
        ir_outputs = [self.output(label, value, line, layers) for label, value, line in outputs]
        try:
            return Network(inputs, layers, ir_outputs, name=name)
        except SymnetError as error:
            raise at_line(error, self.header_line)

    # inputs
    def input_names(self):
        if self.sim.cell_form:
            return [f"x{k + 1}" for k in range(self.input_count())]
        return list(self.sim.params)

    def input_count(self):
        if not self.sim.cell_form:
            return len(self.sim.params)
        seen = set(self.sim.input_chains) | set(self.sim.cell_inputs) | self.sim.seen_inputs
        if not seen:
            self.fail("the function never reads an input X{i,ts}; a network needs at least one",
                      kind=UnsupportedError)
        return max(seen) + 1

    def overrides(self):
        given = self.input_sizes
        if given is None:
            return {}
        names = self.input_names()
        if not isinstance(given, Mapping):
            given = dict(enumerate(given, start=1))
        result = {}
        for key, value in given.items():
            index = names.index(key) if key in names else (key - 1 if isinstance(key, int) else None)
            if index is None or not 0 <= index < len(names):
                raise ModelFormatError(f"input_sizes names {key!r}, which is not an input"
                                       f" (inputs: {', '.join(names)})")
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                    raise ModelFormatError(f"input_sizes[{key!r}] must be a positive whole number")
                result[index] = int(value)
        return result

    def input(self, k):
        chain = self.sim.input_chains.get(k, ())
        override = self.overrides().get(k)
        steps = []
        for spec in chain:
            n_rows = None
            if spec.kind == "removeconstantrows" and _row_count(spec) is None:
                n_rows = steps[-1].out_size if steps else self.kept_input_rows(k, spec, override)
            step = self.step(spec, n_rows)
            if steps and step.in_size != steps[-1].out_size:
                self.fail(f"{spec.name} ({spec.kind}) has settings for {step.in_size} rows,"
                          f" but receives {steps[-1].out_size}", spec.line)
            steps.append(step)
        raw = steps[0].in_size if steps else self.unprocessed_size(k, override)
        if override is not None and override != raw:
            self.fail(f"input_sizes gives input {k + 1} {override} rows, but the file says {raw}")
        return Input(self.input_names()[k], raw, steps)

    def kept_input_rows(self, k, spec, override):
        """Raw rows of an input whose first step removes constant rows."""
        largest = int(np.max(spec.settings["keep"])) if np.size(spec.settings.get("keep", [])) else 0
        if override is not None:
            if override < largest:
                self.fail(f"input_sizes gives input {k + 1} {override} rows, but {spec.name} keeps row {largest}")
            return override
        if k in self.help_sizes:
            rows, line = self.help_sizes[k]
            if rows < largest:
                self.fail(f"the help text gives input {k + 1} {rows} rows, but {spec.name} keeps row"
                          f" {largest}; pass input_sizes to say how many", line)
            return rows
        return largest

    def input_columns(self, k):
        """The column counts of the weights that take input ``k`` unprocessed."""
        return {t.weights.shape[1] for spec in self.sim.layers for t in spec.total.terms
                if t.kind == "input" and t.source == k}

    def unprocessed_size(self, k, override):
        columns = self.input_columns(k)
        if len(columns) == 1:
            return columns.pop()
        if override is not None:
            return override
        if not columns and k in self.help_sizes:
            return self.help_sizes[k][0]
        self.fail(f"cannot tell the size of input {k + 1}" + (
            ": no layer uses it; pass input_sizes" if not columns else
            f": its weight matrices have {sorted(columns)} columns"))

    # processing steps
    def step(self, spec, n_rows=None, reverse=False):
        settings = spec.settings
        try:
            if spec.kind == "removeconstantrows":
                return self.removal(spec, n_rows, reverse)
            needed = ("xoffset", "gain", "ymin" if spec.kind == "mapminmax" else "ymean")
            missing = [name for name in needed if name not in settings]
            if missing:
                self.fail(f"{spec.name} ({spec.kind}) lacks {', '.join(missing)}", spec.line)
            _require_columns(spec, needed)
            kind = MapMinMax if spec.kind == "mapminmax" else MapStd
            return kind(*(settings[name] for name in needed))
        except SymnetError as error:
            raise at_line(error, spec.line)

    def removal(self, spec, n_rows, reverse):
        settings = spec.settings
        if "keep" not in settings:
            self.fail(f"{spec.name} (removeconstantrows) lacks keep", spec.line)
        keep = _indices(settings["keep"], f"{spec.name} keep")
        n_rows = _row_count(spec) if n_rows is None else n_rows
        remove = _indices(settings["remove"], f"{spec.name} remove") if "remove" in settings else None
        if remove is not None and sorted(keep + remove) != list(range(1, n_rows + 1)):
            self.fail(f"{spec.name}: keep and remove do not split rows 1..{n_rows}", spec.line)
        if not reverse:
            return RemoveConstantRows(n_rows, tuple(k - 1 for k in keep))
        if remove is None or "xrows" not in settings:
            self.fail(f"{spec.name} (removeconstantrows on an output) lacks"
                      f" {'remove' if remove is None else 'xrows'}", spec.line)
        _require_columns(spec, [name for name in ("constants", "value") if name in settings])
        values = settings.get("constants", settings.get("value"))
        values = np.zeros(0) if values is None and not remove else values
        if values is None or np.size(values) != len(remove):
            self.fail(f"{spec.name}: {len(remove)} removed rows need as many constants", spec.line)
        order = np.argsort(remove)
        return RemoveConstantRows(n_rows, tuple(k - 1 for k in keep),
                                  tuple(np.reshape(values, -1)[order]))

    # layers
    def layer_size_and_bias(self, spec):
        total = spec.total
        rows = [t.weights.shape[0] for t in total.terms]
        size = rows[0] if rows else (np.size(total.bias) if total.bias is not None else 0)
        if not size:
            self.fail("a layer needs a bias or weights", spec.line)
        bias = np.zeros(size) if total.bias is None else total.bias
        if np.size(bias) not in (1, size):
            self.fail(f"the bias has {np.size(bias)} values but the layer has {size} units", spec.line)
        return size, bias

    def layer(self, spec, inputs, layers):
        total = spec.total
        size, bias = self.layer_size_and_bias(spec)
        connections = {}
        for term in total.terms:
            source = term.source if term.kind == "input" else self.renumber[term.source]
            source_size = inputs[source].processed_size if term.kind == "input" else layers[source].size
            label = f"{term.kind} {source + 1}"
            if term.weights.shape != (size, source_size):
                shape = "x".join(map(str, term.weights.shape))
                self.fail(f"{term.name or 'a weight matrix'} is {shape}, but it takes {label}"
                          f" ({source_size} values) into a layer of {size} units", spec.line)
            key = (term.kind, source)
            connections[key] = connections.get(key, 0) + term.weights
        try:
            return Layer(size, spec.transfer, bias,
                         [(s, w) for (kind, s), w in connections.items() if kind == "input"],
                         [(s, w) for (kind, s), w in connections.items() if kind == "layer"],
                         name=spec.name)
        except SymnetError as error:
            raise at_line(error, spec.line)

    # outputs
    def output_values(self):
        sim = self.sim
        if sim.cell_outputs or sim.cell_form:
            count = max(sim.cell_outputs) + 1 if sim.cell_outputs else 0
            missing = [k + 1 for k in range(count) if k not in sim.cell_outputs]
            if not count or missing:
                self.fail(f"output Y{{{(missing or [1])[0]},ts}} is never assigned")
            found = [(f"y{k + 1}", sim.cell_outputs[k], sim.output_lines[k]) for k in range(count)]
        else:
            found = []
            for name in sim.outputs:
                value = sim.env.get(name)
                if value is None:
                    self.fail(f"output {name!r} is never assigned")
                found.append((name, value, sim.output_lines.get(name, self.header_line)))
        result = []
        for label, value, line in found:
            if not isinstance(value, Boilerplate):
                signal = _checked(lambda: sim.as_layer(value), line)
                sim.observations.append(Observation(line, f"output {label}", signal.transposed))
                result.append((label, signal, line))
        if not result:
            self.fail("the function returns no network output")
        return result

    def output(self, label, signal, line, layers):
        steps = [self.step(spec, reverse=True) for spec in reversed(signal.undone)]
        size = steps[0].in_size if steps else None
        for spec, step in zip(reversed(signal.undone), steps):
            if step.in_size != size:
                self.fail(f"{spec.name} ({spec.kind}) has settings for {step.in_size} rows,"
                          f" but the rows before it number {size}", spec.line)
            size = step.out_size
        layer = self.renumber[signal.layer]
        if steps and size != layers[layer].size:
            self.fail(f"output {label}: its processing ends with {size} rows, but layer"
                      f" {layer + 1} has {layers[layer].size}", line)
        return Output(label, layer, steps)

    def check_layout(self):
        """Every input and output must be oriented like the samples (columns, or rows with x1 = x1')."""
        rows = self.sim.samples_as_rows
        for observation in self.sim.observations:
            if rows is None:
                rows = observation.transposed
            elif observation.transposed != rows:
                state = "transposed" if observation.transposed else "not transposed"
                self.fail(f"{observation.what} is {state}, but the samples are"
                          f" {'rows' if rows else 'columns'}", observation.line)


class _DynamicAssembly(_Assembly):
    """The one-step map of a time-series network (symnet.ir.delays): its tap delay lines
    become inputs x_k(t-d) and a_j(t-d) of a static network."""

    def network(self, name):
        outputs = self.output_values()
        self.buffers = self.sim.delays.check()
        for (kind, index), buffer in self.buffers.items():
            if kind == "input" and self.sim.input_chains.setdefault(index, buffer.current.steps) is not \
                    buffer.current.steps and len(self.sim.input_chains[index]) + len(buffer.current.steps):
                self.fail(f"input {index + 1} reaches the layers with two different processing chains",
                          buffer.line)
        inputs = [self.input(k) for k in range(self.input_count())]
        order = sorted(range(len(self.sim.layers)), key=lambda i: (self.sim.layers[i].line, i))
        self.renumber = {old: new for new, old in enumerate(order)}
        self.sizes = [self.layer_size_and_bias(self.sim.layers[old])[0] for old in order]
        layers = []
        for old in order:
            layers.append(self.dynamic_layer(self.sim.layers[old], inputs, layers))
        ir_outputs = [self.output(label, value, line, layers) for label, value, line in outputs]
        try:
            return one_step_network(inputs, layers, ir_outputs, name=name)
        except SymnetError as error:
            raise at_line(error, self.header_line)

    def input_columns(self, k):
        columns = super().input_columns(k)
        buffer = self.buffers.get(("input", k))
        return columns | {t.weights.shape[1] // len(t.source.delays) for spec in self.sim.layers
                          for t in spec.total.terms if t.kind == "tap" and buffer and t.source.buffer == buffer.name}

    def dynamic_layer(self, spec, inputs, layers):
        size, bias = self.layer_size_and_bias(spec)
        input_weights, layer_weights = [], []
        for term in spec.total.terms:
            kind, source, delays = term.kind, term.source, (0,)
            if kind == "tap":
                kind, source = self.sim.delays.buffers[term.source.buffer].source
                delays = term.source.delays
            source = source if kind == "input" else self.renumber[source]
            if kind == "layer" and source >= len(layers) and 0 in delays:
                self.fail(f"{term.name or 'a weight matrix'} takes layer {source + 1} before it is computed",
                          spec.line)
            source_size = inputs[source].processed_size if kind == "input" else self.sizes[source]
            expected = (size, source_size * len(delays))
            if term.weights.shape != expected:
                shape = "x".join(map(str, term.weights.shape))
                self.fail(f"{term.name or 'a weight matrix'} is {shape}, but it takes {kind} {source + 1}"
                          f" ({source_size} values) at {len(delays)} delays into a layer of {size} units",
                          spec.line)
            (input_weights if kind == "input" else layer_weights).append(
                TappedWeights(source, delays, term.weights))
        return DynamicLayer(size, spec.transfer, bias, input_weights, layer_weights, name=spec.name)


def _checked(function, line):
    try:
        return function()
    except SymnetError as error:
        raise at_line(error, line)


def _row_count(spec):
    settings = spec.settings
    if "xrows" in settings:
        return int(_indices(settings["xrows"], f"{spec.name} xrows")[0])
    if "remove" in settings and "keep" in settings:
        return np.size(settings["keep"]) + np.size(settings["remove"])
    return None


def _require_columns(spec, names):
    """Settings are applied row by row (bsxfun), so they must be column vectors or scalars."""
    for name in names:
        shape = np.shape(spec.settings[name])
        if len(shape) == 2 and shape[1] != 1 and shape != (0, 0):
            raise at_line(ModelFormatError(f"{spec.name}.{name} must be a column vector, but it is"
                                           f" {shape[0]}x{shape[1]}"), spec.line)


def _indices(values, what):
    array = np.reshape(np.asarray(values, dtype=float), -1)
    if np.any(array != np.round(array)) or np.any(array < 1):
        raise ModelFormatError(f"{what} must hold positive whole numbers")
    return [int(v) for v in array]
