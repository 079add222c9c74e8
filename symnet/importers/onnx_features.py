"""ONNX operators beyond the matrix products and activations of ``onnx_model``, as the
dynamo and torchscript exporters write them: operators that only move features
(Concat, Slice, Gather, Split, and Squeeze/Unsqueeze/Reshape/Flatten/Transpose where
they do more than add or drop batch axes), run by onnx's reference evaluator on
feature numbers (``feature_picking``); eval-mode BatchNormalization as a per-feature
affine map; and a comparison with a constant feeding Where, as one piecewise function.

Each handler is (reader, node, inputs, attrs, where) -> (tensor, shape); Split gives
one tensor and one shape per output.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import ModelFormatError, UnsupportedError
from .feature_picking import Numbering

#: samples assumed where the graph leaves the batch size open
PROBE_BATCH = 3


def pick_features(reader, node, inputs, attrs, where):
    """An operator that only moves features, run on feature numbers."""
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator
    numbering = Numbering(reader.builder, where)
    feeds, batches, open_batch = {}, set(), False
    for position, (name, value) in enumerate(zip(node.input, inputs)):
        if not name:
            continue
        if isinstance(value, np.ndarray):
            feeds[name] = _index_constant(value, node.op_type, position, where)
            continue
        shape = reader.shapes.get(name)
        if shape is None or any(d is None for d in shape[1:]):
            raise UnsupportedError(f"{where}: the shape of input {name!r} is unknown")
        open_batch = open_batch or shape[0] is None
        shape = (PROBE_BATCH if shape[0] is None else shape[0],) + tuple(shape[1:])
        batches.add(shape[0])
        feeds[name] = numbering.numbered(value, shape)
    if len(batches) != 1:
        raise UnsupportedError(f"{where}: its inputs have different batch sizes")
    graph = helper.make_graph(
        [node], "picking",
        [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), array.shape)
         for name, array in feeds.items()],
        [helper.make_tensor_value_info(name, TensorProto.UNDEFINED, None) for name in node.output if name])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", reader.opset)])
    try:
        results = ReferenceEvaluator(model).run(None, feeds)
    except Exception as error:  # the reference evaluator's own refusal of these operands
        raise ModelFormatError(f"{where}: {type(error).__name__}: {' '.join(str(error).split())[:200]}") from None
    batch = batches.pop()
    values = tuple(numbering.decoded(result, batch) for result in results)
    shapes = tuple((None if open_batch else batch,) + tuple(np.shape(result)[1:]) for result in results)
    return (values, shapes) if len(node.output) > 1 else (values[0], shapes[0])


def _index_constant(value, op_type, position, where):
    """A constant operand: integer positions and sizes stay integers (the reader keeps
    Constant nodes as floats); data that is constant cannot be picked from."""
    if op_type == "Concat" or position == 0:
        raise UnsupportedError(f"{where}: joins the data with a constant tensor, which is not supported")
    if not np.all(value == np.round(value)):
        raise ModelFormatError(f"{where}: input {position + 1} must hold whole numbers")
    return np.asarray(value).astype(np.int64)


def or_pick_features(handler):
    """``handler`` (a shape operator that adds or drops batch axes), else the operator run
    on feature numbers: x[:, 0] then Unsqueeze, a Reshape of (batch,) to (batch, 1)."""
    def handle(reader, node, inputs, attrs, where):
        try:
            return handler(reader, node, inputs, attrs, where)
        except UnsupportedError as refusal:
            try:
                return pick_features(reader, node, inputs, attrs, where)
            except UnsupportedError:
                raise refusal from None
    return handle


def batch_normalization(reader, node, inputs, attrs, where):
    """Inference-mode BatchNormalization of (batch, features): scale and shift per feature."""
    if attrs.get("training_mode", 0) or len([name for name in node.output if name]) > 1:
        raise UnsupportedError(f"{where}: batch normalization in training mode (batch statistics) is not"
                               " supported; export the model after model.eval()")
    shape = reader.shape(node)
    if shape is not None and len(shape) != 2:
        raise UnsupportedError(f"{where}: batch normalization of {len(shape)}-D tensors is not supported")
    scale, bias, mean, variance = (reader.constant_input(inputs, where, k) for k in range(1, 5))
    factor = scale / np.sqrt(variance + float(attrs.get("epsilon", 1e-5)))
    value = reader.builder.constant_op(reader.value_input(inputs, where), "mul", factor, where)
    return reader.builder.constant_op(value, "add", bias - mean * factor, where), shape


@dataclass(frozen=True, eq=False)
class Comparison:
    """``subject relation bound`` (bound a constant): only a Where may use it."""

    subject: object
    relation: str
    bound: np.ndarray


_FLIPPED = {"greater": "less", "less": "greater", "greater_equal": "less_equal", "less_equal": "greater_equal"}


def comparison(relation):
    def handle(reader, node, inputs, attrs, where):
        left, right = inputs
        if isinstance(left, np.ndarray) == isinstance(right, np.ndarray):
            raise UnsupportedError(f"{where}: only comparisons of the data with a constant are supported")
        if isinstance(left, np.ndarray):
            return Comparison(right, _FLIPPED[relation], left), reader.shape(node, 1)
        return Comparison(left, relation, right), reader.shape(node)
    return handle


def choice(reader, node, inputs, attrs, where):
    """Where(comparison, a, b): one piecewise function."""
    condition, chosen, otherwise = inputs
    if not isinstance(condition, Comparison):
        raise UnsupportedError(f"{where}: Where is supported only on a comparison of the data with a constant")
    value = reader.builder.piecewise(condition.subject, condition.relation, condition.bound, chosen, otherwise,
                                     where)
    return value, reader.shape(node, 1) or reader.shape(node, 2)
