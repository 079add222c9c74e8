"""Direct numeric evaluation of a network with numpy.

This path does not go through the symbolic stage: it is the independent
reference that derivatives are checked against (by finite differences).
Transfer functions are still the registry's sympy definitions, turned into
numpy functions by ``sympy.lambdify``.
"""

from functools import lru_cache

import numpy as np
import sympy as sp

from . import transfer as transfer_registry
from .errors import ModelFormatError


@lru_cache(maxsize=None)
def _elementwise_function(name, params):
    entry = transfer_registry.lookup(name)
    n = transfer_registry.elementwise_symbol()
    # scipy supplies the element-wise special functions numpy lacks (erf).
    return sp.lambdify(n, entry.expression(n, params), modules=["scipy", "numpy"])


@lru_cache(maxsize=None)
def _vector_function(name, size):
    entry = transfer_registry.lookup(name)
    ns = sp.symbols(f"n0:{size}", real=True)
    return sp.lambdify([ns], entry.build(list(ns)), modules="numpy")


def apply_transfer(layer, net_input):
    """The layer's transfer function on net inputs of shape (size, n_samples)."""
    entry = layer.transfer_function
    with np.errstate(over="ignore", under="ignore"):
        if entry.elementwise:
            result = _elementwise_function(entry.name, layer.transfer_params)(net_input)
            return np.broadcast_to(np.asarray(result, dtype=float), net_input.shape).copy()
        # Softmax is invariant to a common shift; subtracting the max keeps exp finite.
        shifted = net_input - np.max(net_input, axis=0, keepdims=True)
        values = _vector_function(entry.name, layer.size)(list(shifted))
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
        columns.append(np.array(rows, dtype=float).reshape(-1, X.shape[0]))
    return np.concatenate(columns, axis=0).T


def input_range(net):
    """(n_inputs, 2) raw input ranges: stated in the model, or implied by the normalization."""
    ranges = []
    for inp in net.inputs:
        if inp.value_range is not None:
            ranges.append(np.array(inp.value_range))
            continue
        ranges.append(_range_from_steps(inp))
    return np.concatenate(ranges, axis=0)


def _range_from_steps(inp):
    """Map the normalized range of the last range-defining step back to raw units."""
    pairs = [(-1.0, 1.0)] * inp.size
    for position, step in enumerate(inp.steps):
        normalized = step.normalized_range()
        if normalized is None:
            continue
        low, high = list(normalized[:, 0]), list(normalized[:, 1])
        for earlier in reversed(inp.steps[:position + 1]):
            low, high = _reverse_known(earlier, low), _reverse_known(earlier, high)
        pairs = [(-1.0, 1.0) if lo is None else (float(min(lo, hi)), float(max(lo, hi)))
                 for lo, hi in zip(low, high)]
    return np.array(pairs, dtype=float)


def _reverse_known(step, values):
    """Reverse a step on values where some rows are unknown (None)."""
    if step.kind == "removeconstantrows":
        expanded = [None] * step.n_rows
        for row, value in zip(step.keep, values):
            expanded[row] = value
        return expanded
    reversed_values = step.reverse([0.0 if v is None else v for v in values])
    return [None if v is None else r for v, r in zip(values, reversed_values)]
