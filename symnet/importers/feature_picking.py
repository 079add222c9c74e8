"""Operations that only move features around (cat, slicing, split, stack, view;
ONNX Concat, Slice, Gather, Split, Unsqueeze): the framework itself runs them
on arrays of feature numbers in place of the data, and the numbers in the
result say which features of which operand they pick, in what order.  No
operator is modelled by hand, so every indexing rule (negative steps, ``None``
axes, split sizes) is the framework's own.

The first axis is the batch: a sample's numbers are offset by its index times
STRIDE, so that a result which moves values across samples is recognized and
refused.
"""

import numpy as np

from ..errors import UnsupportedError

#: a sample's feature numbers lie in [index * STRIDE, (index + 1) * STRIDE)
STRIDE = 1 << 32


class Numbering:
    """The operands of one operation, each given feature numbers after those of the ones before."""

    def __init__(self, builder, where):
        self.builder = builder
        self.where = where
        self.leaves = []   # (value, features)

    def numbered(self, value, shape):
        """An int64 array of ``shape`` (batch first) numbering the features of ``value``."""
        shape = tuple(int(d) for d in shape)
        if not shape:
            raise UnsupportedError(f"{self.where}: a scalar has no batch axis")
        features = int(np.prod(shape[1:], dtype=np.int64))
        start = sum(size for _, size in self.leaves)
        self.leaves.append((value, features))
        numbers = np.arange(start, start + features, dtype=np.int64).reshape(shape[1:])
        samples = np.arange(shape[0], dtype=np.int64).reshape((-1,) + (1,) * (len(shape) - 1)) * STRIDE
        return numbers[None, ...] + samples

    def decoded(self, result, batch):
        """The builder value whose features are the numbers in ``result`` (an array)."""
        result = np.asarray(result)
        if result.ndim == 0 or result.shape[0] != batch:
            raise UnsupportedError(f"{self.where}: moves the batch axis; only the features of"
                                   " (batch, features) may be rearranged")
        rows = result.reshape(batch, -1) - (np.arange(batch, dtype=np.int64) * STRIDE)[:, None]
        if rows.shape[1] == 0:
            raise UnsupportedError(f"{self.where}: picks no features")
        if np.any(rows < 0) or np.any(rows >= STRIDE) or np.any(rows != rows[0]):
            raise UnsupportedError(f"{self.where}: mixes samples of the batch; only the features of"
                                   " (batch, features) may be rearranged")
        return self._gathered(rows[0])

    def _gathered(self, picked):
        starts = np.cumsum([0] + [size for _, size in self.leaves])
        owner = np.searchsorted(starts, picked, side="right") - 1
        used = sorted(set(int(i) for i in owner))
        offsets, position = np.zeros(len(self.leaves), dtype=np.int64), 0
        for index in used:   # the operands used, one after the other
            offsets[index] = position - starts[index]
            position += self.leaves[index][1]
        local = picked + offsets[owner]
        values = [self.leaves[index][0] for index in used]
        joined = values[0] if len(values) == 1 else self.builder.concat(values, self.where)
        if np.array_equal(local, np.arange(position)):
            return joined
        return self.builder.select(joined, local, self.where)
