"""Model files built to be slow or large to read, of a size chosen by the caller
(tests/test_input_scaling.py and benchmarks/input_scaling.py)."""

import struct
import zlib

import numpy as np


def json_object_text(keys):
    """A JSON object of ``keys`` distinct keys."""
    return "{" + ",".join(f'"k{i}": {i}' for i in range(keys)) + "}"


def _element(kind, data):
    return struct.pack("<II", kind, len(data)) + data + b"\0" * (-len(data) % 8)


def _matrix_head(mat_class, dims, name=b""):
    return (_element(6, struct.pack("<II", mat_class, 0))               # array flags (miUINT32)
            + _element(5, struct.pack(f"<{len(dims)}i", *dims))          # dimensions (miINT32)
            + _element(1, name))                                          # name (miINT8)


def write_mat_bomb(path, rows, columns, variable="symnet_network"):
    """A MAT-file (version 5, compressed) holding ``variable``, a struct whose field IW is a
    rows x columns double array of zeros stored as bytes: about rows * columns / 1000 bytes on
    disk, 8 * rows * columns once read.  Built a chunk at a time, so it never sits in memory."""
    padded = rows * columns + (-rows * columns) % 8
    field = _matrix_head(6, (rows, columns)) + struct.pack("<II", 2, rows * columns)   # miUINT8 data follows
    head = (_matrix_head(2, (1, 1), variable.encode())
            + struct.pack("<HHi", 5, 4, 32)                                # field name length (small element)
            + _element(1, b"IW".ljust(32, b"\0"))
            + struct.pack("<II", 14, len(field) + padded) + field)
    compressor = zlib.compressobj(1)
    chunks = [compressor.compress(struct.pack("<II", 14, len(head) + padded) + head)]
    zeros, left = bytes(1 << 22), padded
    while left:
        chunks.append(compressor.compress(zeros[:min(left, len(zeros))]))
        left -= min(left, len(zeros))
    chunks.append(compressor.flush())
    body = b"".join(chunks)
    header = b"MATLAB 5.0 MAT-file, written to test size limits".ljust(116, b" ") + bytes(8) + b"\x00\x01IM"
    with open(path, "wb") as stream:
        stream.write(header + struct.pack("<II", 15, len(body)) + body)


def chain_model(operators, n_inputs=3, n_units=4, seed=0):
    """x -> Gemm -> the element-wise ``operators`` (node builders: input name, output name) -> Gemm -> y."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(seed)
    weights = {"W1": rng.normal(size=(n_units, n_inputs)), "B1": rng.normal(size=n_units),
               "W2": rng.normal(size=(1, n_units)), "B2": rng.normal(size=1),
               "low": np.array(-0.3), "high": np.array(0.9)}   # the bounds of ``clip``
    nodes = [helper.make_node("Gemm", ["x", "W1", "B1"], ["h0"], transB=1)]
    for index, make in enumerate(operators):
        nodes.append(make(f"h{index}", f"h{index + 1}"))
    nodes.append(helper.make_node("Gemm", [f"h{len(operators)}", "W2", "B2"], ["y"], transB=1))
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", n_inputs])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1])],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def node(op_type, **attributes):
    from onnx import helper
    return lambda source, target: helper.make_node(op_type, [source], [target], **attributes)


def clip(source, target):
    from onnx import helper
    return helper.make_node("Clip", [source, "low", "high"], [target])
