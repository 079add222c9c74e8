"""Model files built to be slow or large to read, of a size chosen by the caller
(tests/test_input_scaling.py and benchmarks/input_scaling.py)."""

import struct
import zlib


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
