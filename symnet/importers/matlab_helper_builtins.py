"""MATLAB's built-in functions as genFunction helpers use them, for matlab_helper_run.

Each entry takes the run (for its kind of numbers) and the evaluated
arguments and returns a value; an argument form MATLAB would read otherwise
(another dimension, a class other than gpuArray) is refused.
"""

import numpy as np

from ..errors import UnsupportedError
from .matlab_helper_math import Logical
from .matlab_syntax import Handle


#: the largest row or column count a helper may build (the stand-in values have a few)
MAX_SIZE = 1000


def refuse(problem):
    raise UnsupportedError(problem)


def _array(run, value):
    value = run.numbers(value)
    if not isinstance(value, np.ndarray):
        refuse("expected an array, not a selection a(mask)")
    return value


def _count(value, what="a size"):
    if not isinstance(value, np.ndarray) or value.shape != (1, 1):
        refuse(f"{what} must be one whole number")
    number = float(value[0, 0])
    if not 0 <= number <= MAX_SIZE or number != int(number):
        refuse(f"{what} must be a whole number up to {MAX_SIZE}, not {number:g}")
    return int(number)


def _shape(rows, columns):
    if rows * columns > MAX_SIZE * 10:
        refuse(f"an array of {rows}x{columns} is larger than a helper needs")
    return rows, columns


def _dimension(value):
    dimension = _count(value, "a dimension")
    if dimension not in (1, 2):
        refuse("only dimensions 1 and 2 are read")
    return dimension - 1


def _default_axis(array):
    """MATLAB's first dimension whose size is not 1."""
    return 0 if array.shape[0] != 1 else 1


def _elementwise(name):
    def apply(run, args):
        if len(args) != 1:
            refuse(f"{name} takes one argument here")
        return run.elementwise(run.math.functions[name], args[0])
    return apply


def _nan_test(name):
    def test(run, args):
        if len(args) != 1:
            refuse(f"{name} takes one argument")
        array = _array(run, args[0])
        if name == "isnan":
            return run.math.isnan(array)
        if name == "isinf":
            return run.math.isinf(array)
        bad = run.math.logic("|", run.math.isnan(array), run.math.isinf(array))
        return run.math.logic("~", bad)
    return test


def _find(run, args):
    if len(args) != 1 or not isinstance(args[0], Logical):
        refuse("find is read only as find(condition), to select elements")
    return args[0]


def _extreme(name):
    def extreme(run, args):
        if len(args) == 2:
            return run.elementwise(run.math.functions[name], args[0], args[1])
        if len(args) == 3 and isinstance(args[1], np.ndarray) and args[1].size == 0:
            return run.math.reduce(name, _array(run, args[0]), _dimension(args[2]))
        if len(args) == 1:
            array = _array(run, args[0])
            return run.math.reduce(name, array, _default_axis(array))
        refuse(f"unsupported use of {name}")
    return extreme


def _sum(run, args):
    if len(args) not in (1, 2):
        refuse("sum takes an array and a dimension")
    array = _array(run, args[0])
    axis = _dimension(args[1]) if len(args) == 2 else _default_axis(array)
    return run.math.reduce("sum", array, axis)


def _size(run, args):
    if not args:
        refuse("size needs an argument")
    array = _array(run, args[0])
    if len(args) == 1:
        return run.math.array([list(array.shape)])
    if len(args) == 2:
        return run.math.array([[array.shape[_dimension(args[1])]]])
    refuse("unsupported use of size")


def _numel(run, args):
    if len(args) != 1:
        refuse("numel takes one argument")
    return run.math.array([[_array(run, args[0]).size]])


def _filled(name):
    value = {"nan": np.nan, "NaN": np.nan, "zeros": 0.0, "ones": 1.0}[name]

    def filled(run, args):
        if len(args) >= 2 and isinstance(args[-2], str) and args[-2] == "like":
            args = args[:-2]            # 'like',y: the class of y, a double here
        if len(args) > 2 or any(isinstance(a, str) for a in args):
            refuse(f"unsupported use of {name}")
        sizes = [_count(a) for a in args] or [1]
        return run.math.full(_shape(sizes[0], sizes[-1]), run.math.number(value))
    return filled


def _repmat(run, args):
    if len(args) == 2 and isinstance(args[1], np.ndarray) and args[1].shape == (1, 2):
        args = [args[0]] + [args[1][:, :1], args[1][:, 1:]]
    if len(args) != 3:
        refuse("repmat is read as repmat(a,rows,columns)")
    array, rows, columns = _array(run, args[0]), _count(args[1]), _count(args[2])
    _shape(array.shape[0] * rows, array.shape[1] * columns)
    return np.tile(array, (rows, columns))


def _bsxfun(run, args):
    if len(args) != 3 or not isinstance(args[0], Handle):
        refuse("bsxfun is read as bsxfun(@function,a,b)")
    return run.handle_call(args[0], args[1:])


def _arrayfun(run, args):
    """``arrayfun(@f, a, b, ...)``: f on each element (with implicit expansion, as on a GPU)."""
    if len(args) < 2 or not isinstance(args[0], Handle):
        refuse("arrayfun is read as arrayfun(@function,a,...)")
    arrays = [_array(run, a) for a in args[1:]]
    shapes = [a.shape for a in arrays]
    if any(len({s[k] for s in shapes} - {1}) > 1 for k in (0, 1)):
        refuse("arrayfun's arrays have sizes that do not agree")
    shape = tuple(max(s[k] for s in shapes) for k in (0, 1))
    arrays = [np.broadcast_to(a, shape) for a in arrays]
    result = run.math.full(shape, 0)
    for i, j in np.ndindex(*shape):
        value = run.numbers(run.handle_call(args[0], [a[i:i + 1, j:j + 1].copy() for a in arrays]))
        if not isinstance(value, np.ndarray) or value.shape != (1, 1):
            refuse("the function given to arrayfun must return one number")
        result[i, j] = value[0, 0]
    return result


def _isa(run, args):
    if len(args) != 2 or args[1] != "gpuArray":
        refuse("isa is read only as isa(x,'gpuArray')")
    return run.math.flag("gpuArray")


BUILTINS = {name: _elementwise(name) for name in ("exp", "log", "sqrt", "tanh", "sinh", "cosh", "abs", "sign",
                                                   "erf")}
BUILTINS.update({name: _nan_test(name) for name in ("isnan", "isinf", "isfinite")})
BUILTINS.update({"finite": _nan_test("isfinite"), "find": _find, "max": _extreme("max"), "min": _extreme("min"),
                 "sum": _sum, "size": _size, "numel": _numel, "repmat": _repmat, "bsxfun": _bsxfun,
                 "arrayfun": _arrayfun, "isa": _isa})
BUILTINS.update({name: _filled(name) for name in ("nan", "NaN", "zeros", "ones")})
