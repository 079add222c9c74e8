"""Keras layers -> dataflow builder operations (``dataflow.NetworkBuilder``).

A tensor is a tuple of builder values ("pieces") laid side by side along the feature
axis: a Concatenate joins the pieces of its inputs instead of building a matrix, so that
a Dense reading it takes each piece through its own block of columns and no extra layer
is made.  Per-feature constants (Normalization, Rescaling, BatchNormalization) are cut
to the pieces; on a raw input they become its processing steps, before an output its
output steps, so that derivatives are in raw units.

Each handler is ``handler(layer, inputs, builder) -> tensor`` with ``inputs`` a list of
tensors; the layer classes that are not feed-forward MLP pieces are refused with the
layer and its class named.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import ModelFormatError, UnsupportedError
from ..ir import transfer as transfer_registry
from .dataflow import N, Value, require_finite
from .dataflow import _uniform as uniform  # noqa: the test the builder itself applies

#: Keras's default ``keras.config.epsilon()``: Normalization divides by max(sqrt(var), epsilon)
KERAS_EPSILON = 1e-7


@dataclass(frozen=True)
class KerasLayer:
    """One layer as the graph walk sees it."""

    name: str
    class_name: str
    config: dict
    weights: dict
    keras_major: int

    @property
    def where(self):
        return describe_layer(self.name, self.class_name)

    def weight(self, key, shape=None):
        array = self.weights.get(key)
        if array is None:
            raise ModelFormatError(f"{self.where}: the weight {key!r} is missing")
        if shape is not None and array.shape != shape:
            raise ModelFormatError(f"{self.where}: the weight {key!r} has shape {array.shape}, expected {shape}")
        require_finite(array, self.where, f"weight {key!r}")
        return array


def describe_layer(name, class_name):
    """``layer 'name' (Class)``, each cut to a readable length (a hostile file can make them any size)."""
    return f"layer {_cut(str(name))!r} ({_cut(str(class_name))})"


def _cut(text, limit=80):
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --- tensors -----------------------------------------------------------------------------

def size_of(tensor):
    """Number of features of a tensor (None while an input's size is unknown)."""
    sizes = [piece.size for piece in tensor]
    return None if any(s is None for s in sizes) else sum(sizes)


def single(builder, tensor, where):
    """The tensor as one builder value (pieces joined by the builder's concatenation)."""
    return tensor[0] if len(tensor) == 1 else builder.concat(tensor, where)


def _per_feature(layer, values, tensor, what):
    """``values`` (a scalar or one per feature) cut into one array per piece."""
    array = np.asarray(values, dtype=float).reshape(-1)
    require_finite(array, layer.where, what)
    if array.size == 1:
        return [array] * len(tensor)
    size = size_of(tensor)
    if size is not None and array.size != size:
        raise ModelFormatError(f"{layer.where}: the {what} has {array.size} values for {size} features")
    if len(tensor) == 1:
        return [array]
    bounds = np.cumsum([piece.size for piece in tensor])[:-1]
    return np.split(array, bounds)


def _affine(builder, layer, tensor, operations):
    """Apply (op, per-feature values, what) in order to every piece."""
    for op, values, what in operations:
        parts = _per_feature(layer, values, tensor, what)
        tensor = tuple(builder.constant_op(piece, op, part, layer.where) for piece, part in zip(tensor, parts))
    return tensor


def _elementwise(builder, layer, tensor, transfer):
    name, params = transfer
    entry = transfer_registry.lookup(name)
    params = transfer_registry.normalize_parameters(name, params)
    return tuple(builder.unary(_activation_input(builder, piece, layer.where),
                               lambda e: entry.reference_expression(e, params), layer.where,
                               (entry.name, params)) for piece in tensor)


def _activation_input(builder, piece, where):
    """An activation after per-unit constants (Dense with an activation, then BatchNormalization,
    then another activation) reads the earlier activation as a layer; the builder composes only
    scalar constants into one element-wise expression."""
    if isinstance(piece, Value) and piece.expr != N and not uniform(piece.post_scale, piece.post_shift):
        return Value.of(builder.materialize(piece, where))
    return piece


def _softmax(builder, layer, tensor):
    return (builder.softmax(single(builder, tensor, layer.where), layer.where, name=layer.name),)


# --- activations ---------------------------------------------------------------------------

_SOFTMAX = "softmax"


def _activation_names(keras_major):
    """Keras activation name -> (registry name, parameters), None (identity) or softmax."""
    return {
        "linear": None, "relu": ("poslin", {}), "sigmoid": ("logsig", {}), "tanh": ("tansig", {}),
        "softplus": ("softplus", {}), "softsign": ("elliotsig", {}), "elu": ("elu", {"alpha": 1.0}),
        "selu": ("selu", {}), "gelu": ("gelu", {}), "swish": ("swish", {}), "silu": ("swish", {}),
        "relu6": ("clip", {"min": 0.0, "max": 6.0}), "hard_tanh": ("clip", {"min": -1.0, "max": 1.0}),
        "leaky_relu": ("leaky_relu", {"alpha": 0.2}),
        # Keras 3: relu6(x + 3) / 6; Keras 2: clip(0.2 x + 0.5, 0, 1)
        "hard_sigmoid": ("hard_sigmoid", {"alpha": 1.0 / 6.0 if keras_major >= 3 else 0.2, "beta": 0.5}),
        "softmax": _SOFTMAX,
    }


def activation_name(spec, where):
    """The name of a serialized activation: a string, or Keras 3's dict for a built-in function."""
    if spec is None:
        return "linear"
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict) and isinstance(spec.get("config"), str) \
            and str(spec.get("module", "")).startswith("keras.") and "activations" in str(spec.get("module")) \
            and spec.get("registered_name") in (None, "function"):
        return spec["config"]
    raise UnsupportedError(f"{where}: the activation is a custom object ({_describe(spec)}); symnet never runs"
                           " or imports code named in a model file")


def apply_activation(builder, layer, tensor, spec):
    name = activation_name(spec, layer.where)
    known = _activation_names(layer.keras_major)
    if name not in known:
        supported = ", ".join(sorted(known))
        raise UnsupportedError(f"{layer.where}: activation {name!r} is not supported (supported: {supported})")
    transfer = known[name]
    if transfer is None:
        return tensor
    if transfer == _SOFTMAX:
        return _softmax(builder, layer, tensor)
    return _elementwise(builder, layer, tensor, transfer)


def _describe(spec):
    if isinstance(spec, dict):
        parts = [f"{key} {spec.get(key)!r}" for key in ("class_name", "module", "registered_name") if spec.get(key)]
        return ", ".join(parts) or "a dict"
    return f"a {type(spec).__name__}"


# --- handlers --------------------------------------------------------------------------

def _one(layer, inputs):
    if len(inputs) != 1:
        raise ModelFormatError(f"{layer.where}: takes one input, got {len(inputs)}")
    return inputs[0]


def dense(layer, inputs, builder):
    tensor = _one(layer, inputs)
    kernel = layer.weight("kernel")
    if kernel.ndim != 2:
        raise ModelFormatError(f"{layer.where}: the kernel must be a matrix, got shape {kernel.shape}")
    units = layer.config.get("units", kernel.shape[1])
    if units != kernel.shape[1]:
        raise ModelFormatError(f"{layer.where}: the kernel has {kernel.shape[1]} columns for {units} units")
    bias = layer.weight("bias", (kernel.shape[1],)) if layer.config.get("use_bias", True) \
        else np.zeros(kernel.shape[1])
    size = size_of(tensor)
    if size is not None and size != kernel.shape[0]:
        raise ModelFormatError(f"{layer.where}: the kernel takes {kernel.shape[0]} features but receives {size}")
    matrix = kernel.T
    result, column = None, 0
    for piece in tensor:
        width = kernel.shape[0] if piece.size is None else piece.size
        part = builder.linear(piece, matrix[:, column:column + width], bias if result is None
                              else np.zeros_like(bias), layer.where, name=layer.name)
        result = part if result is None else builder.binary(result, "add", part, layer.where)
        column += width
    return apply_activation(builder, layer, (result,), layer.config.get("activation"))


def activation(layer, inputs, builder):
    return apply_activation(builder, layer, _one(layer, inputs), layer.config.get("activation"))


def relu(layer, inputs, builder):
    config = layer.config
    slope = float(config.get("negative_slope") or 0.0)
    threshold = float(config.get("threshold") or 0.0)
    ceiling = config.get("max_value")
    if threshold != 0.0 or (ceiling is not None and slope != 0.0):
        raise UnsupportedError(f"{layer.where}: ReLU with threshold={threshold} and max_value={ceiling} with"
                               f" negative_slope={slope} is not supported (plain, leaky or capped ReLU is)")
    if ceiling is not None:
        transfer = ("clip", {"min": 0.0, "max": float(ceiling)})
    else:
        transfer = ("leaky_relu", {"alpha": slope}) if slope else ("poslin", {})
    return _elementwise(builder, layer, _one(layer, inputs), transfer)


def leaky_relu(layer, inputs, builder):
    # Keras 3 names the slope negative_slope (default 0.3); Keras 2 named it alpha
    slope = layer.config.get("negative_slope", layer.config.get("alpha", 0.3))
    return _elementwise(builder, layer, _one(layer, inputs), ("leaky_relu", {"alpha": slope}))


def elu(layer, inputs, builder):
    return _elementwise(builder, layer, _one(layer, inputs), ("elu", {"alpha": layer.config.get("alpha", 1.0)}))


def softmax(layer, inputs, builder):
    axis = layer.config.get("axis", -1)
    if axis not in (-1, [-1], 1, [1]):
        raise UnsupportedError(f"{layer.where}: softmax over axis {axis} is not over the features")
    return _softmax(builder, layer, _one(layer, inputs))


def prelu(layer, inputs, builder):
    """relu(x) - alpha * relu(-x), as Keras computes it: two ReLU layers (of x and of -x)
    that the next layer reads, since the slopes differ per unit."""
    tensor = _one(layer, inputs)
    alpha = layer.weight("alpha").reshape(-1)
    slopes = _per_feature(layer, alpha, tensor, "alpha")
    relu_transfer = ("poslin", ())
    pieces = []
    for piece, slope in zip(tensor, slopes):
        if np.all(slope == slope[0]):
            pieces.append(_elementwise(builder, layer, (piece,), ("leaky_relu", {"alpha": float(slope[0])}))[0])
            continue
        linear = builder.materialize(piece, layer.where)
        positive = builder.unary(Value.of(linear), _relu, layer.where, relu_transfer)
        negative = builder.unary(Value.of(linear.scaled(-np.ones(linear.size), np.zeros(linear.size))),
                                 _relu, layer.where, relu_transfer)
        negative = builder.constant_op(negative, "mul", -slope, layer.where)
        pieces.append(builder.binary(positive, "add", negative, layer.where))
    return tuple(pieces)


def _relu(e):
    return transfer_registry.lookup("poslin").reference_expression(e, ())


def normalization(layer, inputs, builder):
    tensor = _one(layer, inputs)
    config = layer.config
    axis = config.get("axis", -1)
    if axis not in (-1, [-1], None) and not (isinstance(axis, list) and len(axis) == 1 and axis[0] == 1):
        raise UnsupportedError(f"{layer.where}: normalization over axis {axis} is not over the features")
    if config.get("mean") is not None and config.get("variance") is not None:
        mean, variance = config["mean"], config["variance"]
    else:
        mean, variance = layer.weight("mean"), layer.weight("variance")
    try:
        mean, variance = np.asarray(mean, dtype=float), np.asarray(variance, dtype=float)
    except (TypeError, ValueError):
        raise ModelFormatError(f"{layer.where}: mean and variance must be numbers") from None
    if np.any(variance < 0):
        raise ModelFormatError(f"{layer.where}: a variance is negative")
    deviation = np.maximum(np.sqrt(variance), KERAS_EPSILON)
    if config.get("invert", False):
        return _affine(builder, layer, tensor, [("mul", deviation, "variance"), ("add", mean, "mean")])
    return _affine(builder, layer, tensor, [("sub", mean, "mean"), ("div", deviation, "variance")])


def rescaling(layer, inputs, builder):
    scale, offset = layer.config.get("scale", 1.0), layer.config.get("offset", 0.0)
    try:
        scale, offset = np.asarray(scale, dtype=float), np.asarray(offset, dtype=float)
    except (TypeError, ValueError):
        raise ModelFormatError(f"{layer.where}: scale and offset must be numbers") from None
    return _affine(builder, layer, _one(layer, inputs), [("mul", scale, "scale"), ("add", offset, "offset")])


def batch_normalization(layer, inputs, builder):
    """Inference form: (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta."""
    tensor = _one(layer, inputs)
    config = layer.config
    axis = config.get("axis", -1)
    if axis not in (-1, [-1], 1, [1]):
        raise UnsupportedError(f"{layer.where}: batch normalization over axis {axis} is not over the features")
    if config.get("renorm"):
        raise UnsupportedError(f"{layer.where}: batch renormalization is not supported")
    size = layer.weight("moving_mean").shape
    mean, variance = layer.weight("moving_mean"), layer.weight("moving_variance", size)
    gamma = layer.weight("gamma", size) if config.get("scale", True) else np.ones(size)
    beta = layer.weight("beta", size) if config.get("center", True) else np.zeros(size)
    epsilon = float(config.get("epsilon", 1e-3))
    if np.any(variance + epsilon <= 0):
        raise ModelFormatError(f"{layer.where}: moving_variance + epsilon is not positive")
    return _affine(builder, layer, tensor, [("sub", mean, "moving_mean"),
                                            ("mul", gamma / np.sqrt(variance + epsilon), "gamma"),
                                            ("add", beta, "beta")])


def layer_normalization(layer, inputs, builder):
    """(x - mean x) / sqrt(var x + epsilon) * gamma + beta over the features of each sample."""
    config = layer.config
    axis = config.get("axis", -1)
    if axis not in (-1, [-1], 1, [1]):
        raise UnsupportedError(f"{layer.where}: layer normalization over axis {axis} is not over the features")
    if config.get("rms_scaling"):
        raise UnsupportedError(f"{layer.where}: layer normalization with rms_scaling is not supported")
    gamma = layer.weight("gamma") if config.get("scale", True) else None
    beta = layer.weight("beta") if config.get("center", True) else None
    value = single(builder, _one(layer, inputs), layer.where)
    return (builder.layer_norm(value, gamma, beta, float(config.get("epsilon", 1e-3)), layer.where,
                               name=layer.name),)


def identity(layer, inputs, builder):
    return _one(layer, inputs)


def concatenate(layer, inputs, builder):
    if layer.config.get("axis", -1) not in (-1, 1):
        raise UnsupportedError(f"{layer.where}: concatenation along axis {layer.config.get('axis')}"
                               " is not along the features")
    return tuple(piece for tensor in inputs for piece in tensor)


def _merge(op):
    def handle(layer, inputs, builder):
        if len(inputs) < 2 or (op == "sub" and len(inputs) != 2):
            raise ModelFormatError(f"{layer.where}: takes {'two' if op == 'sub' else 'two or more'} inputs,"
                                   f" got {len(inputs)}")
        sizes = {size_of(tensor) for tensor in inputs}
        if len(sizes) != 1:
            raise ModelFormatError(f"{layer.where}: its inputs have different sizes {sorted(map(str, sizes))}")
        result = inputs[0]
        for tensor in inputs[1:]:
            result = _combine(builder, layer, result, "add" if op == "average" else op, tensor)
        if op == "average":
            result = _affine(builder, layer, result, [("div", np.array(float(len(inputs))), "count")])
        return result
    return handle


def _combine(builder, layer, left, op, right):
    if [p.size for p in left] != [p.size for p in right]:
        left, right = (single(builder, left, layer.where),), (single(builder, right, layer.where),)
    return tuple(builder.binary(a, op, b, layer.where) for a, b in zip(left, right))


HANDLERS = {
    "Dense": dense, "Activation": activation, "ReLU": relu, "LeakyReLU": leaky_relu, "ELU": elu,
    "PReLU": prelu, "Softmax": softmax, "Normalization": normalization, "Rescaling": rescaling,
    "BatchNormalization": batch_normalization, "LayerNormalization": layer_normalization,
    "Concatenate": concatenate, "Add": _merge("add"),
    "Subtract": _merge("sub"), "Average": _merge("average"),
    # identities at inference
    "Dropout": identity, "GaussianNoise": identity, "GaussianDropout": identity, "AlphaDropout": identity,
    "ActivityRegularization": identity, "Identity": identity,
}

#: refused layer classes (prefix match) with the reason
REFUSED = (
    ("Conv", "convolution"), ("DepthwiseConv", "convolution"), ("SeparableConv", "convolution"),
    ("LSTM", "recurrence"), ("GRU", "recurrence"), ("SimpleRNN", "recurrence"), ("RNN", "recurrence"),
    ("Bidirectional", "recurrence"), ("TimeDistributed", "a wrapper over time steps"),
    ("MultiHeadAttention", "attention"), ("GroupedQueryAttention", "attention"), ("Attention", "attention"),
    ("AdditiveAttention", "attention"), ("Embedding", "an embedding lookup"),
    ("MaxPooling", "pooling"), ("AveragePooling", "pooling"), ("GlobalMaxPooling", "pooling"),
    ("GlobalAveragePooling", "pooling"),
    ("Lambda", "a Lambda layer: it holds Python code, which symnet never runs"),
    ("Sequential", "a nested model"), ("Functional", "a nested model"), ("Model", "a nested model"),
)


def refusal(class_name):
    """Why a layer class is not read, or None when symnet does not know it at all."""
    for prefix, reason in REFUSED:
        if class_name.startswith(prefix):
            return reason
    return None
