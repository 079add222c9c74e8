"""Delay states of a dynamic network (MATLAB's timedelaynet, narxnet, layrecnet).

A dynamic network is represented by its *one-step map*: an ordinary static
``Network`` whose raw inputs are the current inputs x_k(t), the delayed inputs
x_k(t-1..t-D) and the delayed layer outputs a_j(t-1..t-L), and whose outputs are
the network outputs y(t) followed by the layer outputs a_j(t) that are fed back.
Every derivative of that Network is a derivative of one time step with respect to
the current input and to every delay state. ``DelayLayout`` says which raw inputs
and outputs are which, and how the state advances from one step to the next:

    x_k(t-d) <- x_k(t-d+1) (d = D..2),  x_k(t-1) <- x_k(t)
    a_j(t-d) <- a_j(t-d+1) (d = L..2),  a_j(t-1) <- a_j(t)

MATLAB keeps the same states oldest first: ``Xi{k,c}`` is x_k(t-D-1+c), and
``Ai{j,c}`` is a_j(t-L-1+c).
"""

from dataclasses import dataclass, replace

import numpy as np

from ..errors import ModelFormatError
from .network import Input, Layer, Network, Output


@dataclass(frozen=True)
class InputTaps:
    """External input ``current`` (an index of Network.inputs) and its delayed copies
    ``delayed[d-1]`` = x(t-d), d = 1..D."""
    current: int
    delayed: tuple


@dataclass(frozen=True)
class LayerTaps:
    """Layer ``layer`` (0-based) is fed back: Network output ``output`` is a(t) and the
    Network inputs ``delayed[d-1]`` are a(t-d), d = 1..L."""
    layer: int
    output: int
    delayed: tuple


@dataclass(frozen=True)
class DelayLayout:
    """Which raw inputs and outputs of a one-step Network are delay states."""
    inputs: tuple            # InputTaps, one per external input, in the network's order
    layers: tuple = ()       # LayerTaps, one per fed-back layer
    outputs: tuple = ()      # indices of Network.outputs that are the network's outputs y(t)

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "outputs", tuple(self.outputs))

    @property
    def input_delays(self):
        """D: delayed copies kept of every input (MATLAB's numInputDelays)."""
        return max((len(taps.delayed) for taps in self.inputs), default=0)

    @property
    def layer_delays(self):
        """L: delayed copies kept of every fed-back layer (MATLAB's numLayerDelays)."""
        return max((len(taps.delayed) for taps in self.layers), default=0)

    def state_inputs(self):
        """Indices of Network.inputs that hold the delay state, in state-vector order."""
        return tuple(i for taps in self.inputs for i in taps.delayed) + tuple(
            i for taps in self.layers for i in taps.delayed)

    def current_inputs(self):
        return tuple(taps.current for taps in self.inputs)

    def check(self, net):
        """Raises ModelFormatError unless the layout fits ``net``."""
        used = [taps.current for taps in self.inputs] + list(self.state_inputs())
        if sorted(used) != list(range(len(net.inputs))):
            raise ModelFormatError("the delay layout must name every input of the one-step network once")
        for taps in self.inputs:
            size = net.inputs[taps.current].size
            if any(net.inputs[i].size != size for i in taps.delayed):
                raise ModelFormatError(f"the delayed copies of input {net.inputs[taps.current].name!r}"
                                       " differ in size from it")
        for taps in self.layers:
            if not 0 <= taps.output < len(net.outputs) or net.outputs[taps.output].layer != taps.layer:
                raise ModelFormatError(f"the fed-back layer {taps.layer + 1} has no output of its own")
            size = net.layers[taps.layer].size
            if net.output_size(net.outputs[taps.output]) != size or any(
                    net.inputs[i].size != size for i in taps.delayed):
                raise ModelFormatError(f"the delay states of layer {taps.layer + 1} differ in size from it")
        fed_back = {taps.output for taps in self.layers}
        if sorted(set(self.outputs) | fed_back) != list(range(len(net.outputs))) or fed_back & set(self.outputs):
            raise ModelFormatError("the delay layout must name every output of the one-step network once")

    def describe(self, net):
        """Lines for generated files' headers: the state layout (each under 120 characters)."""
        lines = ["one time step of a dynamic network: inputs = current inputs and delay states,",
                 "outputs = network outputs and fed-back layer outputs; after each step every",
                 "delay state s(t-d) takes the value of s(t-d+1), and s(t-1) that of s(t):"]
        for taps in self.inputs:
            lines.append(f"  {net.inputs[taps.current].name}(t): delayed as {_span(net, taps.delayed)}")
        for taps in self.layers:
            lines.append(f"  layer {taps.layer + 1} output {net.outputs[taps.output].name}(t):"
                         f" delayed as {_span(net, taps.delayed)}")
        return lines


def _span(net, delayed):
    """The names of the delayed copies, first and last only when there are many."""
    names = [net.inputs[i].name for i in delayed]
    if not names:
        return "none"
    shown = ", ".join(names) if len(names) <= 3 else f"{names[0]} .. {names[-1]}"
    return f"{shown} (t-1 .. t-{len(names)})"


# --- building the one-step map from a dynamic network's description ------------------------------

@dataclass(frozen=True, eq=False)
class TappedWeights:
    """MATLAB's IW{i,k} or LW{i,j} with its delays: ``weights`` holds one block of columns
    per delay, side by side in the order of ``delays`` (as genFunction's tapdelay stacks them)."""
    source: int
    delays: tuple
    weights: np.ndarray


@dataclass(frozen=True, eq=False)
class DynamicLayer:
    """A layer of a dynamic network: its input and layer weights carry delays."""
    size: int
    transfer: str
    bias: np.ndarray
    input_weights: tuple = ()      # TappedWeights from external inputs
    layer_weights: tuple = ()      # TappedWeights from layers (delay 0 only from earlier layers)
    name: str = ""


def one_step_network(inputs, layers, outputs, name="network"):
    """The one-step map of a dynamic network as a static Network with its DelayLayout.

    Args:
        inputs: the external inputs (``Input``, with their processing).
        layers: ``DynamicLayer`` in order of computation.
        outputs: the network outputs (``Output``).
    Returns:
        Network whose inputs are x_k(t), x_k(t-1..t-D) per input k, then a_j(t-1..t-L) per fed-back
        layer j, and whose outputs are ``outputs`` and then a_j(t) per fed-back layer.
    """
    D = max((max(t.delays) for layer in layers for t in layer.input_weights), default=0)
    fed_back = sorted({t.source for layer in layers for t in layer.layer_weights if max(t.delays) > 0})
    L = max((max(t.delays) for layer in layers for t in layer.layer_weights), default=0)
    net_inputs, input_taps, layer_taps = [], [], []
    for inp in inputs:
        current = len(net_inputs)
        net_inputs += [inp] + [replace(inp, name=f"{inp.name}_d{d}") for d in range(1, D + 1)]
        input_taps.append(InputTaps(current, tuple(range(current + 1, current + D + 1))))
    state_outputs = []
    for j in fed_back:
        if not 0 <= j < len(layers):
            raise ModelFormatError(f"layer {j + 1} is fed back but does not exist")
        start = len(net_inputs)
        net_inputs += [Input(f"a{j + 1}_d{d}", layers[j].size) for d in range(1, L + 1)]
        layer_taps.append(LayerTaps(j, len(outputs) + len(state_outputs), tuple(range(start, start + L))))
        state_outputs.append(Output(f"a{j + 1}", j))
    tap_input = {("x", k, d): t.current if d == 0 else t.delayed[d - 1] for k, t in enumerate(input_taps)
                 for d in range(D + 1)}
    tap_input.update({("a", t.layer, d): t.delayed[d - 1] for t in layer_taps for d in range(1, L + 1)})
    for i, layer in enumerate(layers):
        _check_widths(i, layer, inputs, layers)
    static_layers = [_static_layer(i, layer, tap_input) for i, layer in enumerate(layers)]
    layout = DelayLayout(input_taps, layer_taps, tuple(range(len(outputs))))
    return Network(net_inputs, static_layers, list(outputs) + state_outputs, name=name, delays=layout)


def _check_widths(index, layer, inputs, layers):
    """Each tapped weight matrix holds one block of its source's width per delay."""
    for kind, connections in (("input", layer.input_weights), ("layer", layer.layer_weights)):
        for tapped in connections:
            sources = inputs if kind == "input" else layers
            if not 0 <= tapped.source < len(sources):
                raise ModelFormatError(f"layer {index + 1} takes {kind} {tapped.source + 1}, which does not exist")
            source = sources[tapped.source]
            width = source.processed_size if kind == "input" else source.size
            columns = np.shape(tapped.weights)[-1]
            if columns != width * len(tapped.delays):
                raise ModelFormatError(
                    f"layer {index + 1}: the weights from {kind} {tapped.source + 1} have {columns} columns, but"
                    f" {len(tapped.delays)} delays of {width} values need {width * len(tapped.delays)}")


def _static_layer(index, layer, tap_input):
    input_weights, layer_weights = [], []
    for kind, connections in (("x", layer.input_weights), ("a", layer.layer_weights)):
        for tapped in connections:
            for block, delay in zip(_blocks(tapped, len(tapped.delays)), tapped.delays):
                if kind == "a" and delay == 0:
                    if tapped.source >= index:
                        raise ModelFormatError(f"layer {index + 1} takes layer {tapped.source + 1} without"
                                               " a delay; only earlier layers may feed a layer")
                    layer_weights.append((tapped.source, block))
                else:
                    input_weights.append((tap_input[(kind, tapped.source, delay)], block))
    return Layer(layer.size, layer.transfer, layer.bias, input_weights, layer_weights, name=layer.name)


def _blocks(tapped, count):
    weights = np.asarray(tapped.weights, dtype=float)
    if count == 0 or weights.ndim != 2 or weights.shape[1] % count:
        shape = "x".join(map(str, np.shape(weights)))
        raise ModelFormatError(f"weights of {shape} cannot be split into {count} equal delay taps")
    if len(set(tapped.delays)) != count or any(d < 0 for d in tapped.delays):
        raise ModelFormatError(f"tap delays {list(tapped.delays)} must be distinct and not negative")
    return np.hsplit(weights, count)
