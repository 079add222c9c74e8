"""The size limit of a MAT-file variable, applied from its array headers before anything is inflated.

A MAT-file (version 5 and 7) stores each variable as a zlib-compressed element, and a
few megabytes of zeros inflate to gigabytes; ``scipy.io.loadmat`` allocates each array
as its header declares and inflates the data before symnet sees a single size.  So
before scipy runs, this module walks the one variable symnet reads, inflating the
stream a chunk at a time: every array header (class, dimensions) is read and counted
against ``MAX_VALUES`` the moment it appears, and every data element's declared byte
count against ``MAX_DATA_BYTES`` before its bytes are inflated.  Other variables are
skipped unread.  scipy exposes only the top-level header (the nested ones are read in
its compiled reader), hence this walk of the documented element layout ("MAT-File
Format", MathWorks, version 5 structure).  What the walk does not understand it leaves
to scipy, which runs in a child process and refuses malformed files itself.
"""

import struct
import zlib

from ..errors import ModelFormatError, SizeLimitError

#: Most values (array elements, cells and struct fields counted) one MAT-file variable may declare.
MAX_VALUES = 2**24
#: Most data bytes one variable may declare (all values as complex doubles).
MAX_DATA_BYTES = 16 * MAX_VALUES
#: Deepest nesting of cells and structs read (the exporter writes 5 levels).
MAX_DEPTH = 32

_MATRIX, _COMPRESSED = 14, 15
_CELL, _STRUCT, _OBJECT, _CHAR, _SPARSE = 1, 2, 3, 4, 5
_NUMERIC = range(6, 16)
_COMPLEX = 0x800
_CHUNK = 1 << 16


class _Unreadable(Exception):
    """The walk does not understand the file: scipy decides."""


def check_variable_size(path, variable):
    """Raise SizeLimitError if ``variable`` in the MAT-file ``path`` declares more than the limits.

    Returns:
        the number of values the variable declares, or None where the walk did not read the
        file to the variable's end (not a version 5/7 MAT-file, no such variable, malformed).
    """
    try:
        with open(path, "rb") as stream:
            return _check(stream, variable)
    except (_Unreadable, OSError, struct.error, zlib.error, UnicodeDecodeError):
        return None   # scipy's reader, in its child process, refuses the file with its own reason


def _check(stream, variable):
    header = stream.read(128)
    if len(header) < 128 or 0 in header[:4]:
        raise _Unreadable()   # version 4 (uncompressed, so never larger than the file) or not a MAT-file
    order = {b"IM": "<", b"MI": ">"}.get(header[126:128])
    if order is None or header[125 if order == "<" else 124] != 1:
        raise _Unreadable()   # version 7.3 (HDF5) or not a MAT-file
    while True:
        kind, size, _ = _tag(_Raw(stream), order)
        start = stream.tell()
        body = _Inflated(stream, size) if kind == _COMPRESSED else _Raw(stream)
        if (_tag(body, order)[0] if kind == _COMPRESSED else kind) != _MATRIX:
            raise _Unreadable()
        walk = _Walk(body, order)
        flags, dims, name = walk.matrix_header()
        if name == variable:
            walk.matrix_body(flags, dims, depth=0, where=variable)
            return walk.values
        stream.seek(start + size)   # the next variable, as scipy finds it


class _Raw:
    def __init__(self, stream):
        self.stream = stream

    def read(self, count):
        data = self.stream.read(count)
        if len(data) != count:
            raise _Unreadable()
        return data

    def skip(self, count):
        self.stream.seek(count, 1)


class _Inflated:
    """The inflated bytes of one compressed element, read on demand, ``_CHUNK`` at a time."""

    def __init__(self, stream, compressed_size):
        self.stream, self.left = stream, compressed_size
        self.inflater, self.buffer, self.position = zlib.decompressobj(), b"", 0

    def read(self, count):
        while len(self.buffer) - self.position < count:
            self.buffer = self.buffer[self.position:] + self._more(_CHUNK)
            self.position = 0
        self.position += count
        return self.buffer[self.position - count:self.position]

    def skip(self, count):
        while count > len(self.buffer) - self.position:
            count -= len(self.buffer) - self.position
            self.buffer, self.position = self._more(min(count, _CHUNK) or 1), 0
        self.position += count

    def _more(self, limit):
        if not self.inflater.unconsumed_tail:
            if self.left <= 0:
                raise _Unreadable()
            compressed = self.stream.read(min(self.left, _CHUNK))
            if not compressed:
                raise _Unreadable()
            self.left -= len(compressed)
            return self.inflater.decompress(compressed, limit)
        return self.inflater.decompress(self.inflater.unconsumed_tail, limit)


def _tag(body, order):
    """(data type, byte count, small data or None) of the next element tag."""
    first, second = struct.unpack(order + "II", body.read(8))
    if first >> 16:   # the small element format: type and size in 4 bytes, the data in the other 4
        return first & 0xFFFF, first >> 16, second.to_bytes(4, "little" if order == "<" else "big")
    return first, second, None


class _Walk:
    """Counts the values and data bytes of one variable's arrays as their headers arrive."""

    def __init__(self, body, order):
        self.body, self.order = body, order
        self.values = self.data_bytes = 0

    def element(self, where):
        """The bytes of the next data element (its declared size checked before it is read)."""
        kind, size, small = _tag(self.body, self.order)
        if small is not None:
            return small[:size]
        self.declare(size, where)
        data = self.body.read(size)
        self.body.skip((-size) % 8)
        return data

    def skip_element(self, where):
        kind, size, small = _tag(self.body, self.order)
        if small is None:
            self.declare(size, where)
            self.body.skip(size + (-size) % 8)

    def declare(self, size, where):
        self.data_bytes += size
        if self.data_bytes > MAX_DATA_BYTES:
            raise SizeLimitError(f"the MAT-file variable declares more than {MAX_DATA_BYTES:,} bytes of data"
                                 f" (at {where}), the limit for a network; its data was not read")

    def matrix_header(self):
        """(flags, dimensions, name) of the array whose tag was just read."""
        flags = struct.unpack(self.order + "II", self.element("array flags"))
        raw = self.element("dimensions")
        dims = struct.unpack(f"{self.order}{len(raw) // 4}i", raw[:len(raw) // 4 * 4])
        name = self.element("name").decode("latin-1")
        return flags, dims, name

    def matrix_body(self, flags, dims, depth, where):
        if depth > MAX_DEPTH:
            raise ModelFormatError(f"the MAT-file variable nests cells and structs deeper than {MAX_DEPTH}")
        if any(d < 0 for d in dims):
            raise _Unreadable()
        count = _product(dims)
        kind = flags[0] & 0xFF
        self.count(count * (2 if flags[0] & _COMPLEX else 1) + (flags[1] if kind == _SPARSE else 0), dims, where)
        if kind in _NUMERIC or kind == _CHAR:
            for _ in range(2 if flags[0] & _COMPLEX and kind != _CHAR else 1):
                self.skip_element(where)
        elif kind == _SPARSE:
            for _ in range(4 if flags[0] & _COMPLEX else 3):
                self.skip_element(where)
        elif kind == _CELL:
            for index in range(count):
                self.nested(depth, f"{where}{{{index + 1}}}")
        elif kind in (_STRUCT, _OBJECT):
            if kind == _OBJECT:
                self.element("class name")
            length = struct.unpack(self.order + "i", self.element("field names")[:4])[0]
            raw = self.element("field names")
            fields = [raw[i:i + length].split(b"\0")[0].decode("latin-1") for i in range(0, len(raw), max(length, 1))]
            self.count(count * len(fields), dims, where)
            for index in range(count):
                for field in fields:
                    self.nested(depth, f"{where}.{field}" if count == 1 else f"{where}({index + 1}).{field}")
        else:
            raise _Unreadable()   # function handles and opaque objects: no network holds them

    def nested(self, depth, where):
        kind, size, _ = _tag(self.body, self.order)
        if kind != _MATRIX:
            raise _Unreadable()
        if size:   # a zero-byte matrix element is an empty array, with no header
            flags, dims, _ = self.matrix_header()
            self.matrix_body(flags, dims, depth + 1, where)

    def count(self, values, dims, where):
        self.values += values
        if self.values > MAX_VALUES:
            shape = "x".join(map(str, dims))
            raise SizeLimitError(f"the MAT-file variable declares more than {MAX_VALUES} values (at {where},"
                                 f" {shape}), the limit for a network; its data was not read")


def _product(dims):
    result = 1
    for d in dims:
        result *= d
    return result
