"""ONNX importer (the ``onnx`` package, extra ``symnet[onnx]``): ``.onnx`` files
and ``onnx.ModelProto`` objects of feed-forward MLPs, opset 9 and newer.

Nodes are read in graph order and handed to the dataflow builder: matrix
products (Gemm, MatMul) make layers, element-wise operations with constants
before the first product become input steps and after the last one output
steps, and element-wise subgraphs between products (however an exporter
decomposed SiLU or GELU) become one activation.  Shape operators are accepted
only where they add or drop batch axes and leave the feature axis (the last)
alone.  Anything else is refused with the node and operator named.
"""

import math
from pathlib import Path

import numpy as np
import sympy as sp

from ..errors import MissingExtraError, ModelFormatError, UnsupportedError
from ..ir import transfer as transfer_registry
from .dataflow import NetworkBuilder
from .onnx_external_data import load_external_data
from .onnx_features import batch_normalization, choice, comparison, or_pick_features, pick_features
from .onnx_shapes import flatten_shape, reshape_shape, squeeze_shape, unsqueeze_shape

MIN_OPSET = 9
_FLOAT_TYPES = {1, 10, 11, 16}   # float, float16, double, bfloat16
_REFUSED = {"Conv": "convolution", "ConvTranspose": "convolution", "LSTM": "recurrence", "GRU": "recurrence",
            "RNN": "recurrence", "Loop": "control flow", "If": "control flow", "Scan": "control flow",
            "MaxPool": "pooling", "AveragePool": "pooling"}


def _onnx():
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError:
        raise MissingExtraError("reading ONNX models needs the onnx package: pip install symnet[onnx]") from None
    return onnx


def load_onnx(path):
    """A Network from an ``.onnx`` file."""
    onnx = _onnx()
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf raises several types for malformed bytes
        raise ModelFormatError(f"not a valid ONNX model: {type(error).__name__}: {error}", path) from None
    load_external_data(onnx, model, path)
    return load_model_proto(model, name=Path(path).stem)


def load_model_proto(model, name=None):
    """A Network from an ``onnx.ModelProto``."""
    onnx = _onnx()
    if not isinstance(model, onnx.ModelProto):
        raise UnsupportedError(f"expected an onnx.ModelProto, got {type(model).__name__}")
    opset = _opset(model, onnx.defs.onnx_opset_version())
    graph = model.graph
    return _GraphReader(onnx, opset, name or graph.name or "onnx_model").read(graph)


def _opset(model, newest):
    """The model's standard opset, between the oldest symnet reads and the newest the installed
    onnx package defines (an operator's meaning in a later opset is unknown to both)."""
    versions = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
    if not versions:
        raise ModelFormatError("the model imports no version of the standard ONNX operator set")
    if versions[0] < MIN_OPSET:
        raise UnsupportedError(f"opset {versions[0]} is older than the oldest supported, {MIN_OPSET}")
    if versions[0] > newest:
        raise UnsupportedError(f"opset {versions[0]} is newer than the newest the installed onnx package"
                               f" defines, {newest} (upgrade onnx, or export with an older opset)")
    return versions[0]


class _GraphReader:
    """Walks one graph: tensors map to constants (numpy arrays) or builder values."""

    def __init__(self, onnx, opset, name):
        self.onnx = onnx
        self.opset = opset
        self.builder = NetworkBuilder(name)
        self.tensors = {}
        self.shapes = {}    # value tensor name -> tuple of dims (None: unknown / symbolic)

    def read(self, graph):
        for tensor in graph.initializer:
            self.tensors[tensor.name] = self._array(tensor, f"initializer {tensor.name!r}")
        for item in graph.input:
            if item.name not in self.tensors:
                self._graph_input(item)
        for node in graph.node:
            self._node(node)
        for item in graph.output:
            value = self.tensors.get(item.name)
            where = f"graph output {item.name!r}"
            if value is None or isinstance(value, np.ndarray):
                raise UnsupportedError(f"{where} does not depend on the graph's inputs")
            self.builder.output(value, item.name, where)
        return self.builder.network()

    def _array(self, tensor, where):
        if tensor.data_location == self.onnx.TensorProto.EXTERNAL:
            raise UnsupportedError(f"{where} keeps its data in an external file: pass the model's path, so that"
                                   " symnet reads the file from the model's folder")
        try:
            array = self.onnx.numpy_helper.to_array(tensor)
        except Exception as error:
            raise ModelFormatError(f"{where}: cannot read the tensor: {error}") from None
        if array.dtype.kind not in "fiub":
            raise UnsupportedError(f"{where}: tensors of type {array.dtype} are not supported")
        return np.asarray(array, dtype=float) if array.dtype.kind in "fb" else np.asarray(array)

    def _graph_input(self, item):
        where = f"graph input {item.name!r}"
        kind = item.type.WhichOneof("value")
        if kind != "tensor_type" or item.type.tensor_type.elem_type not in _FLOAT_TYPES:
            raise UnsupportedError(f"{where} is not a floating-point tensor")
        dims = tuple(d.dim_value if d.HasField("dim_value") else None
                     for d in item.type.tensor_type.shape.dim)
        if not dims:
            raise UnsupportedError(f"{where} is a scalar; expected (batch, features)")
        self.shapes[item.name] = dims
        self.tensors[item.name] = self.builder.add_input(item.name, dims[-1])

    # --- nodes ---------------------------------------------------------------------------

    def _node(self, node):
        where = f"node {node.name or node.output[0]!r} ({node.op_type})"
        if node.domain not in ("", "ai.onnx"):
            raise UnsupportedError(f"{where}: operator domain {node.domain!r} is not supported")
        inputs = [self.tensors.get(name) if name else None for name in node.input]
        missing = [name for name, value in zip(node.input, inputs) if name and value is None]
        if missing:
            raise ModelFormatError(f"{where}: input {missing[0]!r} is not produced by an earlier node")
        attrs = {a.name: _decoded(self.onnx.helper.get_attribute_value(a)) for a in node.attribute}
        handler = _HANDLERS.get(node.op_type)
        if handler is None:
            reason = _REFUSED.get(node.op_type)
            detail = f" ({reason})" if reason else ""
            raise UnsupportedError(f"{where}: operator {node.op_type}{detail} is not supported; symnet imports"
                                   " feed-forward MLPs (matrix products, element-wise activations, softmax)")
        if node.input and all(isinstance(v, np.ndarray) or v is None for v in inputs):
            if node.op_type not in _ELEMENTWISE_NUMPY:
                raise UnsupportedError(f"{where}: {node.op_type} of constants alone is not supported")
            result = _ELEMENTWISE_NUMPY[node.op_type](*[v for v in inputs if v is not None])
            self.tensors[node.output[0]] = np.asarray(result, dtype=float)
            return
        result, shape = handler(self, node, inputs, attrs, where)
        results, shapes = (result, shape) if isinstance(result, tuple) else ((result,), (shape,))
        for name, result, shape in zip(node.output, results, shapes):   # Split has several outputs
            self.tensors[name] = result
            if shape is not None:
                self.shapes[name] = shape

    def shape(self, node, position=0):
        return self.shapes.get(node.input[position])

    def value_input(self, inputs, where, position=0):
        value = inputs[position]
        if isinstance(value, np.ndarray):
            raise UnsupportedError(f"{where}: expected the data as input {position + 1}, got a constant")
        return value

    def constant_input(self, inputs, where, position, default=None):
        if position >= len(inputs) or inputs[position] is None:
            return default
        if not isinstance(inputs[position], np.ndarray):
            raise UnsupportedError(f"{where}: input {position + 1} must be a constant")
        return inputs[position]


# --- handlers: (reader, node, inputs, attrs, where) -> (tensor, shape or None) -----------

def _constant(reader, node, inputs, attrs, where):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            value = attrs[key]
            array = reader.onnx.numpy_helper.to_array(value) if key == "value" else np.array(value)
            return np.asarray(array, dtype=float), None
    raise UnsupportedError(f"{where}: only numeric constants are supported")


def _identity(reader, node, inputs, attrs, where):
    if len(node.output) > 1 and node.output[1]:
        raise UnsupportedError(f"{where}: the dropout mask output is not supported")
    return inputs[0], reader.shape(node)


def _cast(reader, node, inputs, attrs, where):
    if attrs.get("to") not in _FLOAT_TYPES:
        raise UnsupportedError(f"{where}: a cast to a non-floating-point type is not supported")
    return inputs[0], reader.shape(node)


def _gemm(reader, node, inputs, attrs, where):
    data = reader.value_input(inputs, where, 0)
    weights = reader.constant_input(inputs, where, 1)
    if attrs.get("transA", 0):
        raise UnsupportedError(f"{where}: transA=1 would lay the data out features-first")
    shape = reader.shape(node)
    if shape is not None and len(shape) != 2:
        raise ModelFormatError(f"{where}: Gemm needs a 2-D input, got {len(shape)} axes")
    if weights.ndim != 2:
        raise ModelFormatError(f"{where}: the weights must be a matrix")
    matrix = (weights if attrs.get("transB", 0) else weights.T) * float(attrs.get("alpha", 1.0))
    bias = reader.constant_input(inputs, where, 2, np.zeros(1))
    if bias.ndim == 2 and bias.shape[0] != 1:
        raise UnsupportedError(f"{where}: a bias with one row per sample is not supported")
    bias = np.broadcast_to(bias.reshape(-1) * float(attrs.get("beta", 1.0)), matrix.shape[:1])
    result = reader.builder.linear(data, matrix, bias, where, name=node.name)
    return result, _with_features(shape, matrix.shape[0])


def _matmul(reader, node, inputs, attrs, where):
    data = reader.value_input(inputs, where, 0)
    weights = reader.constant_input(inputs, where, 1)
    if weights.ndim != 2:
        raise UnsupportedError(f"{where}: MatMul with a {weights.ndim}-D constant is not supported")
    result = reader.builder.linear(data, weights.T, np.zeros(weights.shape[1]), where, name=node.name)
    return result, _with_features(reader.shape(node), weights.shape[1])


def _arithmetic(op):
    def handle(reader, node, inputs, attrs, where):
        left, right = inputs
        shape = _broadcast_shape([reader.shapes.get(name) if not isinstance(value, np.ndarray) else value.shape
                                  for name, value in zip(node.input, inputs)])
        builder = reader.builder
        if isinstance(right, np.ndarray):
            return builder.constant_op(left, op, right, where), shape
        if isinstance(left, np.ndarray):
            if op in ("add", "mul"):
                return builder.constant_op(right, op, left, where), shape
            if op == "sub":
                return builder.constant_op(right, "rsub", left, where), shape
            return builder.unary(right, lambda e: _scalar(left, where) / e, where), shape
        return builder.binary(left, op, right, where), shape
    return handle


def _activation(build):
    """A handler for an element-wise operator: ``build(attrs, reader, inputs, where)`` returns
    (function of a sympy expression, registry label or None)."""
    def handle(reader, node, inputs, attrs, where):
        function, label = build(attrs, reader, inputs, where)
        return reader.builder.unary(inputs[0], function, where, label), reader.shape(node)
    return handle


def _registry(name, **fixed):
    """An activation from the transfer registry; ``fixed`` maps parameters to (attribute, default)."""
    def build(attrs, reader, inputs, where):
        params = transfer_registry.normalize_parameters(
            name, {key: float(attrs.get(attr, default)) for key, (attr, default) in fixed.items()})
        entry = transfer_registry.lookup(name)
        # composites are written with the textbook formula; a lone activation keeps its label
        return (lambda e: entry.reference_expression(e, params)), (entry.name, params)
    return build


def _plain(function):
    return lambda attrs, reader, inputs, where: (function, None)


def _gelu(attrs, reader, inputs, where):
    name = {"none": "gelu", "tanh": "gelu_tanh"}.get(attrs.get("approximate", "none"))
    if name is None:
        raise UnsupportedError(f"{where}: GELU approximation {attrs.get('approximate')!r} is not supported")
    return _registry(name)(attrs, reader, inputs, where)


def _clip(attrs, reader, inputs, where):
    if reader.opset < 11:
        low, high = attrs.get("min", -math.inf), attrs.get("max", math.inf)
    else:
        low = reader.constant_input(inputs, where, 1, np.array(-math.inf))
        high = reader.constant_input(inputs, where, 2, np.array(math.inf))
        low, high = _scalar(low, where), _scalar(high, where)
    if math.isfinite(low) and math.isfinite(high):
        return _registry("clip", min=("min", low), max=("max", high))({}, reader, inputs, where)
    return (lambda e: _clipped(e, low, high)), None


def _clipped(e, low, high):
    pieces = []
    if math.isfinite(low):
        pieces.append((sp.Float(low), e <= low))
    if math.isfinite(high):
        pieces.append((sp.Float(high), e >= high))
    return sp.Piecewise(*pieces, (e, True)) if pieces else e


def _prelu(attrs, reader, inputs, where):
    slope = reader.constant_input(inputs, where, 1)
    return _registry("leaky_relu", alpha=("alpha", _scalar(slope, where)))({}, reader, inputs, where)


def _pow(attrs, reader, inputs, where):
    exponent = _scalar(reader.constant_input(inputs, where, 1), where)
    power = sp.Integer(int(exponent)) if float(exponent).is_integer() else sp.Float(exponent)
    return (lambda e: e ** power), None


def _softmax(reader, node, inputs, attrs, where):
    shape = reader.shape(node)
    rank = len(shape) if shape is not None else 2
    axis = attrs.get("axis", -1 if reader.opset >= 13 else 1)
    axis = axis + rank if axis < 0 else axis
    # before opset 13, Softmax flattens the axes from ``axis`` on: fine when all but the last are 1
    trailing = shape[axis:-1] if shape is not None else ()
    if axis != rank - 1 and (reader.opset >= 13 or any(d != 1 for d in trailing)):
        raise UnsupportedError(f"{where}: softmax over axis {attrs.get('axis')} is not over the features")
    return reader.builder.softmax(reader.value_input(inputs, where), where, name=node.name), shape


def _layer_normalization(reader, node, inputs, attrs, where):
    """LayerNormalization (opset 17) over the last axis: an rms_norm layer of the centered
    net input, then the per-feature scale and bias (see NetworkBuilder.layer_norm)."""
    shape = reader.shape(node)
    rank = len(shape) if shape is not None else 2
    axis = attrs.get("axis", -1)
    if (axis + rank if axis < 0 else axis) != rank - 1:
        raise UnsupportedError(f"{where}: layer normalization from axis {axis} is not over the features only")
    if any(output for output in node.output[1:]):
        raise UnsupportedError(f"{where}: the mean and inverse standard deviation outputs are not supported")
    scale = reader.constant_input(inputs, where, 1)
    bias = reader.constant_input(inputs, where, 2)
    value = reader.builder.layer_norm(reader.value_input(inputs, where), scale, bias,
                                      float(attrs.get("epsilon", 1e-5)), where, name=node.name)
    return value, shape


def _shape_op(compute):
    def handle(reader, node, inputs, attrs, where):
        value = reader.value_input(inputs, where)
        shape = reader.shape(node)
        if shape is None:
            raise UnsupportedError(f"{where}: the shape of its input is unknown")
        return value, compute(reader, shape, inputs, attrs, where)
    return handle


def _squeeze_axes(reader, inputs, attrs, where):
    if reader.opset >= 13:
        axes = reader.constant_input(inputs, where, 1)
        return None if axes is None else [int(a) for a in axes.reshape(-1)]
    return attrs.get("axes")


_HANDLERS = {
    "Constant": _constant,
    "Identity": _identity,
    "Dropout": _identity,
    "Cast": _cast,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Add": _arithmetic("add"),
    "Sub": _arithmetic("sub"),
    "Mul": _arithmetic("mul"),
    "Div": _arithmetic("div"),
    "Tanh": _activation(_registry("tansig")),
    "Sigmoid": _activation(_registry("logsig")),
    "Relu": _activation(_registry("poslin")),
    "LeakyRelu": _activation(_registry("leaky_relu", alpha=("alpha", 0.01))),
    "Elu": _activation(_registry("elu", alpha=("alpha", 1.0))),
    "Selu": _activation(_registry("selu", alpha=("alpha", 1.67326319217681884765625),
                                  scale=("gamma", 1.05070102214813232421875))),
    "Softplus": _activation(_registry("softplus")),
    "Softsign": _activation(_registry("elliotsig")),
    "HardSigmoid": _activation(_registry("hard_sigmoid", alpha=("alpha", 0.2), beta=("beta", 0.5))),
    "Gelu": _activation(_gelu),
    "Clip": _activation(_clip),
    "PRelu": _activation(_prelu),
    "Erf": _activation(_plain(sp.erf)),
    "Exp": _activation(_plain(sp.exp)),
    "Log": _activation(_plain(sp.log)),
    "Sqrt": _activation(_plain(sp.sqrt)),
    "Reciprocal": _activation(_plain(lambda e: 1 / e)),
    "Neg": _activation(_plain(lambda e: -e)),
    "Abs": _activation(_plain(lambda e: sp.Piecewise((-e, e < 0), (e, True)))),
    "Pow": _activation(_pow),
    "Softmax": _softmax,
    "LayerNormalization": _layer_normalization,
    "Flatten": or_pick_features(_shape_op(lambda r, shape, i, attrs, where: flatten_shape(
        shape, attrs.get("axis", 1), where))),
    "Reshape": or_pick_features(_shape_op(lambda r, shape, inputs, attrs, where: reshape_shape(
        shape, r.constant_input(inputs, where, 1), attrs.get("allowzero", 0), where))),
    "Squeeze": or_pick_features(_shape_op(lambda r, shape, inputs, attrs, where: squeeze_shape(
        shape, _squeeze_axes(r, inputs, attrs, where), where))),
    "Unsqueeze": or_pick_features(_shape_op(lambda r, shape, inputs, attrs, where: unsqueeze_shape(
        shape, _squeeze_axes(r, inputs, attrs, where), where))),
    "Concat": pick_features,
    "Slice": pick_features,
    "Gather": pick_features,
    "Split": pick_features,
    "Transpose": pick_features,
    "Sin": _activation(_registry("sin")),
    "Cos": _activation(_registry("cos")),
    "Mish": _activation(_registry("mish")),
    "Celu": _activation(_registry("celu", alpha=("alpha", 1.0))),
    "BatchNormalization": batch_normalization,
    "Greater": comparison("greater"),
    "Less": comparison("less"),
    "GreaterOrEqual": comparison("greater_equal"),
    "LessOrEqual": comparison("less_equal"),
    "Where": choice,
}

#: element-wise operators evaluated directly when all their inputs are constants
_ELEMENTWISE_NUMPY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
                      "Neg": np.negative, "Sqrt": np.sqrt, "Reciprocal": np.reciprocal,
                      "Identity": lambda x: x, "Cast": lambda x, *rest: x}


def _decoded(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _scalar(array, where):
    array = np.asarray(array, dtype=float)
    if array.size != 1 and not np.all(array == array.flat[0]):
        raise UnsupportedError(f"{where}: needs a single constant, got {array.size} different values")
    return float(array.flat[0])


def _with_features(shape, features):
    return None if shape is None else tuple(shape[:-1]) + (features,)


def _broadcast_shape(shapes):
    """numpy's broadcasting of two shapes; None where a value's shape is unknown."""
    if any(s is None for s in shapes):
        return None
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    return tuple(None if a is None or b is None else max(a, b) for a, b in zip(*padded))

