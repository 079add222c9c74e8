"""The network IR: a small, framework-neutral, immutable description of a
trained feed-forward network, normalization included.

Every importer produces these objects and every later stage reads them.
They are validated on construction, so a ``Network`` that exists is
consistent: each weight matrix fits the sizes it connects.

Processing steps work on a list of rows (one row per element of the
vector).  A row may be a sympy expression or a numpy array over samples,
so that each step is written once and serves both the symbolic stage and
numeric evaluation.  ``bind`` marks a difference that must be computed as
written: sympy would otherwise expand gain*(x - xoffset) into
gain*x - gain*xoffset and cancel digits when |x| is much larger than x's span.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np
import sympy as sp

from . import output_map as output_maps
from . import transfer as transfer_registry
from ..errors import ModelFormatError, SizeLimitError

#: Largest vector or layer size accepted; larger ones are refused before anything is allocated.
MAX_SIZE = 100_000


def _vector(values, what, size=None):
    array = np.array(values, dtype=float).reshape(-1)
    if size is not None and array.size == 1 and size != 1:
        array = np.full(size, array[0])
    if size is not None and array.size != size:
        raise ModelFormatError(f"{what} has {array.size} elements, expected {size}")
    _require_finite(array, what)
    array.setflags(write=False)
    return array


def _matrix(values, what, shape):
    array = np.array(values, dtype=float)
    if array.ndim == 1 and shape[0] == 1:
        array = array.reshape(1, -1)
    if array.ndim == 1 and shape[1] == 1:
        array = array.reshape(-1, 1)
    if array.shape != tuple(shape):
        raise ModelFormatError(
            f"{what} has shape {_shape_text(array.shape)}, expected {_shape_text(shape)}")
    _require_finite(array, what)
    array.setflags(write=False)
    return array


def _shape_text(shape):
    return "x".join(str(n) for n in shape) if len(shape) else "scalar"


def _require_finite(array, what):
    if not np.all(np.isfinite(array)):
        raise ModelFormatError(f"{what} contains NaN or Inf")


def _check_ranges(ranges, what):
    """Each row [low, high] with low <= high and a finite width."""
    for row, (low, high) in enumerate(ranges, start=1):
        with np.errstate(over="ignore"):
            finite = np.isfinite(high - low)
        if not low <= high or not finite:
            raise ModelFormatError(f"{what} row {row}: [{float(low)!r}, {float(high)!r}] is not an interval of finite width")


def _check_size(size, what):
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
        raise ModelFormatError(f"{what} must be a non-negative integer, got {size!r}")
    if size > MAX_SIZE:
        raise SizeLimitError(f"{what} is {size}, larger than the limit of {MAX_SIZE}")
    return int(size)


def _same(value):
    return value


def _constant_like(value, like):
    if isinstance(value, sp.Basic):
        return value
    if isinstance(like, np.ndarray):
        return np.full(like.shape, value, dtype=float)
    return sp.Float(value)


# --- processing steps -------------------------------------------------------

@dataclass(frozen=True, eq=False)
class MapMinMax:
    """MATLAB ``mapminmax``: apply (x - xoffset)*gain + ymin, reverse (y - ymin)/gain + xoffset."""

    xoffset: np.ndarray
    gain: np.ndarray
    ymin: np.ndarray
    kind = "mapminmax"
    numeric_fields = ("xoffset", "gain", "ymin")
    range_is_exact = True   # its normalized range is the image of the training data

    def __post_init__(self):
        size = np.size(self.xoffset)
        object.__setattr__(self, "xoffset", _vector(self.xoffset, "mapminmax xoffset"))
        object.__setattr__(self, "gain", _vector(self.gain, "mapminmax gain", size))
        object.__setattr__(self, "ymin", _vector(self.ymin, "mapminmax ymin", size))
        _require_nonzero(self.gain, "mapminmax gain")

    @property
    def in_size(self):
        return self.xoffset.size

    out_size = in_size

    def apply(self, rows, bind=_same):
        return [bind(x - o) * g + m for x, o, g, m in zip(rows, self.xoffset, self.gain, self.ymin)]

    def reverse(self, rows, bind=_same):
        return [bind(y - m) / g + o for y, o, g, m in zip(rows, self.xoffset, self.gain, self.ymin)]

    def normalized_range(self):
        """MATLAB's default target range [ymin, 1] (ymax is not stored by genFunction)."""
        return np.stack([self.ymin, np.where(self.ymin < 1, 1.0, self.ymin + 2.0)], axis=1)


@dataclass(frozen=True, eq=False)
class MapStd:
    """MATLAB ``mapstd``: apply (x - xoffset)*gain + ymean, reverse (y - ymean)/gain + xoffset."""

    xoffset: np.ndarray
    gain: np.ndarray
    ymean: np.ndarray
    kind = "mapstd"
    numeric_fields = ("xoffset", "gain", "ymean")
    range_is_exact = False   # mean +- 2 std: an estimate of where the training data lay

    def __post_init__(self):
        size = np.size(self.xoffset)
        object.__setattr__(self, "xoffset", _vector(self.xoffset, "mapstd xoffset"))
        object.__setattr__(self, "gain", _vector(self.gain, "mapstd gain", size))
        object.__setattr__(self, "ymean", _vector(self.ymean, "mapstd ymean", size))
        _require_nonzero(self.gain, "mapstd gain")

    @property
    def in_size(self):
        return self.xoffset.size

    out_size = in_size

    def apply(self, rows, bind=_same):
        return [bind(x - o) * g + m for x, o, g, m in zip(rows, self.xoffset, self.gain, self.ymean)]

    def reverse(self, rows, bind=_same):
        return [bind(y - m) / g + o for y, o, g, m in zip(rows, self.xoffset, self.gain, self.ymean)]

    def normalized_range(self):
        """Mean +- 2 standard deviations (MATLAB's default ystd is 1)."""
        return np.stack([self.ymean - 2.0, self.ymean + 2.0], axis=1)


@dataclass(frozen=True, eq=False)
class Affine:
    """A general per-element affine map y = scale*x + shift (scikit-learn scalers and others)."""

    scale: np.ndarray
    shift: np.ndarray
    kind = "affine"
    numeric_fields = ("scale", "shift")
    range_is_exact = False   # states no range

    def __post_init__(self):
        size = np.size(self.scale)
        object.__setattr__(self, "scale", _vector(self.scale, "affine scale"))
        object.__setattr__(self, "shift", _vector(self.shift, "affine shift", size))
        _require_nonzero(self.scale, "affine scale")

    @property
    def in_size(self):
        return self.scale.size

    out_size = in_size

    def apply(self, rows, bind=_same):
        return [x * s + t for x, s, t in zip(rows, self.scale, self.shift)]

    def reverse(self, rows, bind=_same):
        return [bind(y - t) / s for y, s, t in zip(rows, self.scale, self.shift)]

    def normalized_range(self):
        """None: this step does not tell where its output lies."""
        return None


@dataclass(frozen=True, eq=False)
class RemoveConstantRows:
    """MATLAB ``removeconstantrows``: keeps rows ``keep`` (0-based) of ``n_rows``.

    On the output side the removed rows are constants: ``constants`` holds
    their values in the order of the removed row indices.
    """

    n_rows: int
    keep: tuple
    constants: tuple = ()
    kind = "removeconstantrows"
    numeric_fields = ("constants",)
    range_is_exact = False   # states no range

    def __post_init__(self):
        n_rows = _check_size(self.n_rows, "removeconstantrows row count")
        indices = np.array(self.keep, dtype=float).reshape(-1)
        if np.any(indices != np.round(indices)):
            raise ModelFormatError("removeconstantrows keep indices must be whole numbers")
        keep = tuple(int(k) for k in np.clip(indices, -1, n_rows))
        if list(keep) != sorted(set(keep)) or any(k < 0 or k >= n_rows for k in keep):
            raise ModelFormatError(
                f"removeconstantrows keep indices must be increasing and within 0..{n_rows - 1}")
        constants = tuple(float(c) for c in np.array(self.constants, dtype=float).reshape(-1))
        removed = n_rows - len(keep)
        if constants and len(constants) != removed:
            raise ModelFormatError(
                f"removeconstantrows has {len(constants)} constants for {removed} removed rows")
        _require_finite(np.array(constants), "removeconstantrows constants")
        object.__setattr__(self, "n_rows", n_rows)
        object.__setattr__(self, "keep", keep)
        object.__setattr__(self, "constants", constants)

    @property
    def in_size(self):
        return self.n_rows

    @property
    def out_size(self):
        return len(self.keep)

    @property
    def removed(self):
        kept = set(self.keep)
        return tuple(k for k in range(self.n_rows) if k not in kept)

    def apply(self, rows, bind=_same):
        return [rows[k] for k in self.keep]

    def reverse(self, rows, bind=_same):
        if len(self.constants) != len(self.removed):
            raise ModelFormatError("removeconstantrows on an output needs the values of the removed rows")
        values = dict(zip(self.removed, self.constants))
        kept = dict(zip(self.keep, rows))
        like = rows[0] if rows else 0.0
        return [kept[k] if k in kept else _constant_like(values[k], like) for k in range(self.n_rows)]

    def normalized_range(self):
        """None: this step does not tell where its output lies."""
        return None


STEP_TYPES = {cls.kind: cls for cls in (MapMinMax, MapStd, Affine, RemoveConstantRows)}


def _require_nonzero(array, what):
    if np.any(array == 0):
        raise ModelFormatError(f"{what} contains a zero, which cannot be reversed")


def _check_chain(steps, raw_size, what):
    size = raw_size
    for index, step in enumerate(steps, start=1):
        if step.in_size != size:
            raise ModelFormatError(
                f"{what} step {index} ({step.kind}) takes {step.in_size} rows, but receives {size}")
        size = step.out_size
    return size


# --- network ------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Input:
    """One network input: ``size`` raw elements, processed by ``steps`` in order.

    ``value_range`` (size x 2, raw units) is where the network was trained;
    when absent it is derived from the processing steps.
    """

    name: str
    size: int
    steps: tuple = ()
    value_range: Optional[np.ndarray] = None

    def __post_init__(self):
        object.__setattr__(self, "size", _check_size(self.size, f"size of input {self.name!r}"))
        object.__setattr__(self, "steps", tuple(self.steps))
        _check_chain(self.steps, self.size, f"input {self.name!r}")
        if self.value_range is not None:
            object.__setattr__(self, "value_range", _matrix(
                self.value_range, f"range of input {self.name!r}", (self.size, 2)))
            _check_ranges(self.value_range, f"range of input {self.name!r}")

    @property
    def processed_size(self):
        return _check_chain(self.steps, self.size, f"input {self.name!r}")

    def process(self, rows):
        for step in self.steps:
            rows = step.apply(rows)
        return rows


@dataclass(frozen=True, eq=False)
class Output:
    """One network output: taken from ``layer``; its ``steps`` are listed in the order
    they are applied to training targets and undone in reverse order.

    ``output_map``: texts of u = E(x_0, ..., y) (symnet.ir.output_map), one for every raw
    row or one for all, applied last; empty for the network's value itself."""

    name: str
    layer: int
    steps: tuple = ()
    output_map: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "layer", int(self.layer))

    @property
    def size(self):
        return self.steps[0].in_size if self.steps else None

    def unprocess(self, rows):
        for step in reversed(self.steps):
            rows = step.reverse(rows)
        return rows


@dataclass(frozen=True, eq=False)
class Layer:
    """n = bias + sum of W·(processed input) + sum of W·(earlier layer output); a = transfer(n).

    ``input_weights`` and ``layer_weights`` are tuples of (source index, matrix)
    with matrix shape (size, source size): MATLAB's IW{i,j} and LW{i,j}.
    """

    size: int
    transfer: str
    bias: np.ndarray
    input_weights: tuple = ()
    layer_weights: tuple = ()
    transfer_params: tuple = ()
    name: str = ""

    def __post_init__(self):
        size = _check_size(self.size, f"size of layer {self.name!r}")
        object.__setattr__(self, "size", size)
        entry = transfer_registry.lookup(self.transfer)
        object.__setattr__(self, "transfer", entry.name)
        object.__setattr__(self, "transfer_params",
                           transfer_registry.normalize_parameters(entry.name, self.transfer_params))
        object.__setattr__(self, "bias", _vector(self.bias, f"bias of layer {self.name!r}", size))
        object.__setattr__(self, "input_weights", tuple(
            (int(source), np.asarray(w)) for source, w in self.input_weights))
        object.__setattr__(self, "layer_weights", tuple(
            (int(source), np.asarray(w)) for source, w in self.layer_weights))

    @property
    def transfer_function(self):
        return transfer_registry.lookup(self.transfer)

    @property
    def parameter_count(self):
        return self.size + sum(w.size for _, w in self.input_weights + self.layer_weights)


@dataclass(frozen=True, eq=False)
class Network:
    """A trained feed-forward network from raw inputs to raw outputs.

    ``delays``: for one time step of a dynamic network, which inputs and outputs are
    delay states (symnet.ir.delays.DelayLayout); None for a static network."""

    inputs: tuple
    layers: tuple
    outputs: tuple
    name: str = "network"
    delays: Optional[object] = None

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        if not self.inputs:
            raise ModelFormatError("the network has no inputs")
        if not self.layers:
            raise ModelFormatError("the network has no layers")
        if not self.outputs:
            raise ModelFormatError("the network has no outputs")
        for index, layer in enumerate(self.layers):
            object.__setattr__(layer, "input_weights", self._checked_weights(index, layer, "input"))
            object.__setattr__(layer, "layer_weights", self._checked_weights(index, layer, "layer"))
        for output in self.outputs:
            self._check_output(output)
        if self.delays is not None:
            self.delays.check(self)

    def _checked_weights(self, index, layer, kind):
        label = f"layer {index + 1}" + (f" ({layer.name})" if layer.name else "")
        connections = layer.input_weights if kind == "input" else layer.layer_weights
        checked = []
        for source, weights in connections:
            if kind == "input":
                if not 0 <= source < len(self.inputs):
                    raise ModelFormatError(f"{label} takes input {source + 1}, which does not exist")
                source_size = self.inputs[source].processed_size
            else:
                if not 0 <= source < index:
                    raise ModelFormatError(
                        f"{label} takes layer {source + 1}; only earlier layers may feed a layer")
                source_size = self.layers[source].size
            name = f"{'IW' if kind == 'input' else 'LW'}{index + 1}_{source + 1}"
            checked.append((source, _matrix(weights, f"{label}: weights {name}", (layer.size, source_size))))
        return tuple(checked)

    def _check_output(self, output):
        if not 0 <= output.layer < len(self.layers):
            raise ModelFormatError(f"output {output.name!r} reads layer {output.layer + 1}, which does not exist")
        layer_size = self.layers[output.layer].size
        if output.steps:
            processed = _check_chain(output.steps, output.size, f"output {output.name!r}")
            if processed != layer_size:
                raise ModelFormatError(
                    f"output {output.name!r}: its processing ends with {processed} rows"
                    f" but layer {output.layer + 1} has {layer_size}")
        object.__setattr__(output, "output_map",
                           output_maps.check(output, self.output_size(output), self.n_inputs))

    @property
    def n_inputs(self):
        """Number of raw input elements, all inputs concatenated."""
        return sum(inp.size for inp in self.inputs)

    @property
    def n_outputs(self):
        """Number of raw output elements, all outputs concatenated."""
        return sum(self.output_size(out) for out in self.outputs)

    def output_size(self, output):
        return output.size if output.steps else self.layers[output.layer].size

    @property
    def parameter_count(self):
        return sum(layer.parameter_count for layer in self.layers)

    def input_range(self):
        """(n_inputs, 2) array of raw input ranges seen in training (or implied by normalization)."""
        from .evaluation import input_range
        return input_range(self)

    def evaluate(self, X):
        """Outputs for a batch: X of shape (n_samples, n_inputs) -> (n_samples, n_outputs).

        This is the direct numeric evaluation (``symnet.ir.evaluation.evaluate``): the IR walked
        layer by layer, no symbolic or layered stage, so it is the independent reference
        derivatives are checked against.  It is fast already (a 318-10-318 net: 2 ms for 20
        points, 2-64-64-64-1: 44 ms for 1,000, within 1.6x of the layered code, after a
        one-time setup of about 0.4 s: sympy's lambdify of the transfer functions).  ``symnet.derive(net, "value")(X)`` gives the
        same values through the layered code that ``symnet generate`` writes.
        """
        from .evaluation import evaluate
        return evaluate(self, X)
