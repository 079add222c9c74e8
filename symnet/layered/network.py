"""Layered stage: the Network IR as weight arrays, for code that works layer by
layer (matrix products and loops) instead of one scalar expression per entry.

The input normalization is folded into the weights of the layers that read
the inputs, the output normalization into the last layer when that layer is
linear and feeds nothing else; what is left of each is one vector op:

    z   = x - offset                      (raw inputs; the only subtraction,
                                           kept so that no digits cancel)
    n_l = bias_l + Wx_l·z + Σ_s W_ls·a_s  (every layer; Wx_l spans all raw inputs)
    a_l = f_l(n_l)
    y_r = scale_r·a_l[u_r] + shift_r      (or a constant, for removed rows)

Transfer functions stay the registry's sympy expressions, here written on
per-element symbols (n, a, d) so that every target prints them with its own
printer: the value f(n), the slope f'(n) (in terms of a where the registry
says so: tanh' = 1 - a²) and the curvature f''(n) (in terms of a and d = f').
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np
import sympy as sp

from ..errors import UnsupportedError
from ..ir import transfer as transfer_registry
from ..ir.network import Network
from ..ir.output_map import all_row_maps, has_output_map
from .whole_layer import FORMS, WholeLayerForm, whole_layer_form

#: Per-element symbols of the transfer-function forms: net input, activation, slope.
N = transfer_registry.elementwise_symbol()
A = sp.Symbol("a", real=True)
D = sp.Symbol("d", real=True)


@dataclass(frozen=True)
class ActivationForm:
    """A layer's transfer function as per-element sympy expressions.

    ``value`` is f(N); ``slope`` is f'(N) written with A = f(N); ``curvature``
    is f''(N) written with A and D = f'(N).  A function of the whole layer (softmax,
    rms_norm) has none of them but its ``whole`` form (symnet.layered.whole_layer).
    """

    name: str
    elementwise: bool
    value: Optional[sp.Expr] = None
    slope: Optional[sp.Expr] = None
    curvature: Optional[sp.Expr] = None
    whole: Optional[WholeLayerForm] = None

    @property
    def identity(self):
        return self.elementwise and self.value == N

    @property
    def linear(self):
        """True when f'' is zero everywhere (no second-order term in the Hessian)."""
        return self.elementwise and self.curvature == 0


#: functions of the whole layer the layered steps can write (the others: unrolled strategy only)
LAYERED_WHOLE_LAYER = tuple(FORMS)


def writes_transfers_of(net):
    """True when the layered strategy has a form for every layer's transfer function."""
    return all(layer.transfer_function.elementwise or layer.transfer in LAYERED_WHOLE_LAYER for layer in net.layers)


def activation_form(layer):
    entry = layer.transfer_function
    if not entry.elementwise:
        if entry.name not in LAYERED_WHOLE_LAYER:
            raise UnsupportedError("the layered strategy cannot write the whole-layer"
                                   f" transfer function {entry.name!r} (use the unrolled strategy)")
        return ActivationForm(entry.name, False, whole=whole_layer_form(entry.name, layer.size, layer.transfer_params))
    params = layer.transfer_params
    value = entry.expression(N, params)
    slope = sp.sympify(entry.derivative(N, A, params))
    # f''(n) as the registry states it, else d/dn of slope(n, a(n)) with a' = D.
    curvature = sp.sympify(entry.curvature(N, A, D, params))
    if curvature.has(sp.Piecewise):
        curvature = sp.piecewise_fold(curvature)
        if all(piece.expr == 0 for piece in curvature.args if isinstance(curvature, sp.Piecewise)):
            curvature = sp.Integer(0)
    return ActivationForm(entry.name, True, value, slope, curvature)


@dataclass(frozen=True, eq=False)
class LayeredLayer:
    """n = bias + input_weights·z + Σ weights·a_source (sources are earlier layers)."""

    index: int
    size: int
    bias: np.ndarray
    input_weights: Optional[np.ndarray]     # (size, n_inputs) over all raw inputs, or None
    layer_weights: tuple                    # ((source layer index, (size, source size) matrix), ...)
    form: ActivationForm


@dataclass(frozen=True, eq=False)
class OutputRows:
    """Raw output rows taken from one layer: y[rows[i]] = scale[i]·a[units[i]] + shift[i]."""

    layer: int
    rows: tuple
    units: tuple
    scale: np.ndarray
    shift: np.ndarray

    @property
    def plain(self):
        """True when scale is 1 and shift 0 (folded into the layer)."""
        return bool(np.all(self.scale == 1.0) and np.all(self.shift == 0.0))


@dataclass(frozen=True, eq=False)
class LayeredNetwork:
    """The folded network.  ``constant_rows`` are raw outputs that do not depend on x."""

    name: str
    n_inputs: int
    n_outputs: int
    offset: np.ndarray          # (n_inputs,)
    layers: tuple
    outputs: tuple              # (OutputRows, ...)
    constant_rows: tuple        # ((row, value), ...)
    output_maps: tuple = ()     # per raw output row: its map E(x, y) (symnet.ir.output_map) or None

    def live_layers(self):
        """Indices of the layers some output depends on, in evaluation order."""
        needed = {block.layer for block in self.outputs}
        for layer in reversed(self.layers):
            if layer.index in needed:
                needed |= {source for source, _ in layer.layer_weights}
        return tuple(sorted(needed))

    def depends_on_inputs(self):
        """Indices of the layers whose activation varies with x."""
        varying = set()
        for layer in self.layers:
            if layer.input_weights is not None or any(s in varying for s, _ in layer.layer_weights):
                varying.add(layer.index)
        return varying

    @property
    def jacobian_mode(self):
        """Forward accumulation when there are no more inputs than outputs, reverse otherwise."""
        return "forward" if self.n_inputs <= self.n_outputs else "reverse"


# --- normalization as per-row affine maps -------------------------------------

def _row_affine(step):
    """(gain, offset, shift) per row: the step maps p to gain·(p - offset) + shift."""
    if step.kind == "mapminmax":
        return step.gain, step.xoffset, step.ymin
    if step.kind == "mapstd":
        return step.gain, step.xoffset, step.ymean
    if step.kind == "affine":
        return step.scale, -step.shift / step.scale, np.zeros(step.scale.size)
    raise UnsupportedError(f"the layered strategy does not support the processing step {step.kind!r}")


def input_rows(inp, start):
    """Processed rows of one input as (raw column, scale, offset, shift):
    processed = scale·(x[column] - offset) + shift; only the first step subtracts from x."""
    rows = [(start + r, 1.0, 0.0, 0.0, True) for r in range(inp.size)]
    for step in inp.steps:
        if step.kind == "removeconstantrows":
            rows = [rows[k] for k in step.keep]
            continue
        gains, offsets, shifts = _row_affine(step)
        updated = []
        for (column, scale, offset, shift, fresh), g, o, m in zip(rows, gains, offsets, shifts):
            if fresh:
                updated.append((column, float(g), float(o), float(m), False))
            else:
                updated.append((column, scale * g, offset, g * (shift - o) + m, False))
        rows = updated
    return [row[:4] for row in rows]


def output_rows(net, output):
    """Raw rows of one output as (unit, scale, shift) or (None, 0, constant value)."""
    rows = [(u, 1.0, 0.0) for u in range(net.layers[output.layer].size)]
    for step in reversed(output.steps):
        if step.kind == "removeconstantrows":
            kept = dict(zip(step.keep, rows))
            values = dict(zip(step.removed, step.constants))
            if len(values) != len(step.removed):
                raise UnsupportedError(f"output {output.name!r}: removeconstantrows without the removed values")
            rows = [kept[k] if k in kept else (None, 0.0, values[k]) for k in range(step.n_rows)]
            continue
        gains, offsets, shifts = _row_affine(step)
        rows = [_undo(row, g, o, m) for row, g, o, m in zip(rows, gains, offsets, shifts)]
    return rows


def _undo(row, gain, offset, shift):
    """Reverse gain·(p - offset) + shift, i.e. (y - shift)/gain + offset, on y = scale·a + s0."""
    unit, scale, s0 = row
    if unit is None:
        return (None, 0.0, float((s0 - shift) / gain + offset))
    return (unit, float(scale / gain), float((s0 - shift) / gain + offset))


# --- building the folded network ----------------------------------------------

def layered_network(net: Network) -> LayeredNetwork:
    """The Network IR with its normalization folded into the weights (see the module doc)."""
    offset = np.zeros(net.n_inputs)
    processed, start = [], 0
    for inp in net.inputs:
        rows = input_rows(inp, start)
        for column, _, row_offset, _ in rows:
            offset[column] = row_offset
        processed.append(rows)
        start += inp.size
    layers = [_fold_inputs(net.n_inputs, index, layer, processed) for index, layer in enumerate(net.layers)]
    outputs, constant_rows, start = [], [], 0
    for output in net.outputs:
        rows = output_rows(net, output)
        kept = [(start + r, unit, scale, shift) for r, (unit, scale, shift) in enumerate(rows) if unit is not None]
        constant_rows += [(start + r, shift) for r, (unit, _, shift) in enumerate(rows) if unit is None]
        if kept:
            rows_, units, scales, shifts = zip(*kept)
            outputs.append(OutputRows(output.layer, rows_, units, np.array(scales), np.array(shifts)))
        start += len(rows)
    layers, outputs = _fold_outputs(layers, outputs)
    maps = tuple(all_row_maps(net)) if has_output_map(net) else ()
    return LayeredNetwork(net.name, net.n_inputs, start, offset, tuple(layers), tuple(outputs),
                          tuple(constant_rows), maps)


def _fold_inputs(n_inputs, index, layer, processed):
    bias = np.array(layer.bias, dtype=float)
    weights = None
    for source, matrix in layer.input_weights:
        columns, scales, _, shifts = (np.array(values) for values in zip(*processed[source])) \
            if processed[source] else (np.zeros(0, int),) + (np.zeros(0),) * 3
        weights = np.zeros((layer.size, n_inputs)) if weights is None else weights
        np.add.at(weights, (slice(None), columns.astype(int)), matrix * scales)
        bias = bias + matrix @ shifts
    return LayeredLayer(index, layer.size, bias, weights, tuple(layer.layer_weights), activation_form(layer))


def _fold_outputs(layers, outputs):
    """Move an output's scale and shift into its layer when that layer is linear, read by
    this output only and feeds no other layer: y = (s∘b + t) + (diag(s)·W)·a."""
    readers = {}
    for block in outputs:
        readers[block.layer] = readers.get(block.layer, 0) + 1
    sources = {source for layer in layers for source, _ in layer.layer_weights}
    folded = []
    for block in outputs:
        layer = layers[block.layer]
        if not layer.form.identity or readers[block.layer] != 1 or layer.index in sources or block.plain:
            folded.append(block)
            continue
        scale = np.ones(layer.size)
        shift = np.zeros(layer.size)
        scale[list(block.units)] = block.scale
        shift[list(block.units)] = block.shift
        layers[layer.index] = LayeredLayer(
            layer.index, layer.size, scale * layer.bias + shift,
            None if layer.input_weights is None else scale[:, None] * layer.input_weights,
            tuple((s, scale[:, None] * w) for s, w in layer.layer_weights), layer.form)
        folded.append(OutputRows(block.layer, block.rows, block.units,
                                 np.ones(len(block.units)), np.zeros(len(block.units))))
    return layers, folded
