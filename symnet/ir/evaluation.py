"""Direct numeric evaluation of a network with numpy.

This path does not go through the symbolic stage: it is the independent
reference that derivatives are checked against (by finite differences).
Transfer functions are still the registry's sympy definitions, turned into
numpy functions by ``sympy.lambdify``.
"""

from functools import lru_cache

import numpy as np
import sympy as sp

from . import output_map as output_maps
from . import transfer as transfer_registry
from ..errors import ModelFormatError


@lru_cache(maxsize=None)
def _elementwise_function(name, params):
    entry = transfer_registry.lookup(name)
    n = transfer_registry.elementwise_symbol()
    # scipy supplies the element-wise special functions numpy lacks (erf).
    return sp.lambdify(n, entry.expression(n, params), modules=["scipy", "numpy"])


@lru_cache(maxsize=None)
def _vector_function(name, params, size):
    entry = transfer_registry.lookup(name)
    ns = sp.symbols(f"n0:{size}", real=True)
    return sp.lambdify([ns], entry.build(list(ns), **dict(params)), modules="numpy")


def apply_transfer(layer, net_input):
    """The layer's transfer function on net inputs of shape (size, n_samples)."""
    entry = layer.transfer_function
    with np.errstate(over="ignore", under="ignore"):
        if entry.elementwise:
            result = _elementwise_function(entry.name, layer.transfer_params)(net_input)
            return np.broadcast_to(np.asarray(result, dtype=float), net_input.shape).copy()
        # Softmax is invariant to a common shift; subtracting the max keeps exp finite.
        shifted = net_input - np.max(net_input, axis=0, keepdims=True) if entry.shift_invariant else net_input
        values = _vector_function(entry.name, layer.transfer_params, layer.size)(list(shifted))
        return np.array([np.broadcast_to(v, shifted.shape[1:]) for v in values], dtype=float)


def _as_batch(net, X):
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.ndim != 2 or X.shape[1] != net.n_inputs:
        raise ModelFormatError(
            f"expected inputs of shape (n_samples, {net.n_inputs}), got {X.shape}")
    return X


def split_inputs(net, X):
    """Columns of X split per network input, each as (size, n_samples)."""
    parts, start = [], 0
    for inp in net.inputs:
        parts.append(X[:, start:start + inp.size].T)
        start += inp.size
    return parts


def evaluate(net, X):
    """Raw outputs (n_samples, n_outputs) for raw inputs X (n_samples, n_inputs)."""
    X = _as_batch(net, X)
    processed = [np.array(inp.process(list(part)), dtype=float).reshape(-1, X.shape[0])
                 for inp, part in zip(net.inputs, split_inputs(net, X))]
    activations = []
    for layer in net.layers:
        total = np.repeat(layer.bias[:, None], X.shape[0], axis=1)
        for source, weights in layer.input_weights:
            total = total + weights @ processed[source]
        for source, weights in layer.layer_weights:
            total = total + weights @ activations[source]
        activations.append(apply_transfer(layer, total))
    columns = []
    for output in net.outputs:
        rows = output.unprocess(list(activations[output.layer]))
        rows = np.array(rows, dtype=float).reshape(-1, X.shape[0])
        maps = output_maps.row_maps(net, output)
        if maps is not None:
            rows = np.array([_mapped(expr, net.n_inputs, X, row) for expr, row in zip(maps, rows)])
        columns.append(rows)
    return np.concatenate(columns, axis=0).T


@lru_cache(maxsize=256)
def _map_function(expr, n_inputs):
    symbols = output_maps.raw_input_symbols(n_inputs) + (output_maps.Y,)
    return sp.lambdify([symbols], expr, modules=["scipy", "numpy"])


def _mapped(expr, n_inputs, X, row):
    """An output map E(x, y) at every sample (X's columns are the raw inputs)."""
    with np.errstate(over="ignore", under="ignore"):
        values = _map_function(expr, n_inputs)(list(X.T) + [row])
    return np.broadcast_to(np.asarray(values, dtype=float), row.shape)


def input_range(net):
    """(n_inputs, 2) raw input ranges: stated in the model, or implied by the normalization."""
    ranges = []
    for inp in net.inputs:
        if inp.value_range is not None:
            ranges.append(np.array(inp.value_range))
            continue
        ranges.append(_range_from_steps(inp))
    return np.concatenate(ranges, axis=0)


#: the range assumed where nothing states one: the scale normalization brings inputs to
UNIT_RANGE = (-1.0, 1.0)


def _range_from_steps(inp):
    """The raw range whose image, through the input's steps, is the normalized range that
    the steps state.  Which step's range counts: an exact one (mapminmax maps the training
    data onto [ymin, 1]) before an estimate (mapstd's mean +- 2 std), and of those the last,
    the one whose output the weights were trained on.  Without any, the network's processed
    input is taken to lie in [-1, 1].  Raw rows that removeconstantrows drops were constant
    in training; they get [-1, 1]."""
    steps = inp.steps
    stated = [(step.range_is_exact, position) for position, step in enumerate(steps)
              if step.normalized_range() is not None]
    if stated:
        position = max(stated)[1]
        normalized = steps[position].normalized_range()
        steps = steps[:position + 1]
    else:
        normalized = np.tile(UNIT_RANGE, (inp.processed_size, 1))
    return raw_range(steps, normalized)


def raw_range(steps, normalized):
    """(raw rows, 2): the interval of raw values that ``steps``, applied in order, map onto
    the intervals ``normalized`` (rows of the last step's output).  Every step is an
    element-wise affine map or a row selection, so each interval maps back exactly through
    its two ends (a negative gain swaps them); rows no step keeps get ``UNIT_RANGE``."""
    intervals = [tuple(map(float, row)) for row in np.asarray(normalized, dtype=float)]
    for step in reversed(steps):
        intervals = _reverse_intervals(step, intervals)
    return np.array([UNIT_RANGE if interval is None else interval for interval in intervals], dtype=float)


def _reverse_intervals(step, intervals):
    """The intervals of a step's input that it maps onto ``intervals`` (None: not known)."""
    if step.kind == "removeconstantrows":
        expanded = [None] * step.n_rows
        for row, interval in zip(step.keep, intervals):
            expanded[row] = interval
        return expanded
    ends = [step.reverse([np.nan if interval is None else interval[end] for interval in intervals])
            for end in (0, 1)]
    return [None if interval is None else tuple(sorted((float(low), float(high))))
            for interval, low, high in zip(intervals, *ends)]
