"""Shape operators of ONNX graphs that symnet accepts: those that only add or drop
batch axes (of size one, or the batch itself) and keep the feature axis, the
last one, as it is.  Each function returns the output shape (None for an
unknown or symbolic size) or raises UnsupportedError naming the node."""

import numpy as np

from ..errors import ModelFormatError, UnsupportedError


def _product(dims):
    if any(d is None for d in dims):
        return None
    return int(np.prod(dims, dtype=np.int64)) if dims else 1


def _keeps_features(shape, result, where, what):
    if result[-1] != shape[-1] or shape[-1] is None:
        raise UnsupportedError(f"{where}: {what} changes the feature axis ({_text(shape)} -> {_text(result)});"
                               " only batch axes may be added or dropped")
    before, after = _product(shape[:-1]), _product(result[:-1])
    if before is not None and after is not None and before != after:
        raise UnsupportedError(f"{where}: {what} mixes batch and feature axes ({_text(shape)} -> {_text(result)})")
    return tuple(result)


def _text(shape):
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _axis(axis, rank, where):
    axis = int(axis)
    if not -rank <= axis < rank:
        raise ModelFormatError(f"{where}: axis {axis} is out of range for {rank} axes")
    return axis + rank if axis < 0 else axis


def flatten_shape(shape, axis, where):
    axis = int(axis) + len(shape) if int(axis) < 0 else int(axis)
    if not 0 <= axis <= len(shape):
        raise ModelFormatError(f"{where}: axis out of range for {len(shape)} axes")
    result = (_product(shape[:axis]), _product(shape[axis:]))
    return _keeps_features(shape, result, where, "Flatten")


def reshape_shape(shape, target, allowzero, where):
    if target is None:
        raise UnsupportedError(f"{where}: the target shape must be a constant")
    dims = [int(d) for d in np.asarray(target).reshape(-1)]
    if not dims:
        raise UnsupportedError(f"{where}: a reshape to a scalar drops the feature axis")
    result = []
    for position, d in enumerate(dims):
        if d == 0 and not allowzero:
            if position >= len(shape):
                raise ModelFormatError(f"{where}: dimension {position} to copy does not exist")
            result.append(shape[position])
        else:
            result.append(None if d == -1 else d)
    if dims.count(-1) > 1:
        raise ModelFormatError(f"{where}: more than one dimension is -1")
    if -1 in dims:
        known, total = _product([d for d in result if d is not None]), _product(list(shape))
        inferred = None if total is None or known is None else total // max(known, 1)
        result[dims.index(-1)] = inferred
        if dims.index(-1) == len(dims) - 1 and inferred is None:
            raise UnsupportedError(f"{where}: the feature axis size cannot be inferred")
    return _keeps_features(shape, result, where, "Reshape")


def squeeze_shape(shape, axes, where):
    rank = len(shape)
    if axes is None:
        axes = [position for position, d in enumerate(shape) if d == 1]
    axes = {_axis(a, rank, where) for a in axes}
    if any(shape[a] not in (1, None) for a in axes):
        raise UnsupportedError(f"{where}: Squeeze of an axis longer than one")
    result = [d for position, d in enumerate(shape) if position not in axes]
    if not result or rank - 1 in axes:
        raise UnsupportedError(f"{where}: Squeeze drops the feature axis")
    return _keeps_features(shape, result, where, "Squeeze")


def unsqueeze_shape(shape, axes, where):
    if axes is None:
        raise UnsupportedError(f"{where}: Unsqueeze needs constant axes")
    rank = len(shape) + len(axes)
    axes = sorted(_axis(a, rank, where) for a in axes)
    result = list(shape)
    for a in axes:
        result.insert(a, 1)
    return _keeps_features(shape, result, where, "Unsqueeze")
