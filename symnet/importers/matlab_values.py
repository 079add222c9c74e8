"""What a variable of a genFunction simulation holds, as the reader sees it.

Descriptions, never numbers: a network input with the processing steps applied
so far, a weighted sum b + W*x + ..., a layer's output with output steps undone
so far, a constant, or boilerplate (cell handling, sample counts).
"""

from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from ..errors import ModelFormatError, UnsupportedError
from .matlab_syntax import Literal, Name, Transpose, Unary

STEP_FIELDS = {
    "mapminmax": ("xoffset", "gain", "ymin"),
    "mapstd": ("xoffset", "gain", "ymean"),
    "removeconstantrows": ("xrows", "keep", "remove", "constants", "value"),
}
NOT_FINITE = frozenset(("Inf", "inf", "NaN", "nan"))


@dataclass(frozen=True, eq=False)
class StepSpec:
    """One processing step as written: its kind, its settings by field name, where it is."""
    kind: str
    settings: dict
    name: str
    line: int


@dataclass(frozen=True)
class InputSignal:
    input: int                  # 0-based
    steps: tuple = ()
    transposed: bool = False
    initial: bool = False       # the initial delay states Xi{k,ts} of the input, not the input


@dataclass(frozen=True)
class LayerSignal:
    layer: int                  # 0-based
    undone: tuple = ()          # output steps in the order they are undone
    transposed: bool = False


@dataclass(frozen=True)
class Constant:
    name: str
    value: np.ndarray = field(compare=False)


@dataclass(frozen=True)
class Struct:
    name: str


@dataclass(frozen=True)
class Term:
    kind: str                   # "input" or "layer"
    source: int
    weights: np.ndarray = field(compare=False)
    name: str = ""


@dataclass(eq=False)
class WeightedSum:
    bias: Optional[np.ndarray]
    terms: tuple
    line: int
    name: str = ""
    layer: Optional[int] = None     # set once the sum itself is used as a (purelin) layer


@dataclass(frozen=True)
class Boilerplate:
    what: str


@dataclass(frozen=True)
class LayerSpec:
    transfer: str
    total: WeightedSum
    line: int
    name: str


@dataclass(frozen=True)
class Observation:
    """A place where the sample layout shows: an input used, or an output returned."""
    line: int
    what: str
    transposed: bool


# --- small pure helpers ----------------------------------------------------------------------------------

def literal_array(node):
    """The array of a numeric literal (possibly transposed), else None."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Transpose) and isinstance(node.operand, Literal):
        return node.operand.value.T
    if isinstance(node, Name) and node.id in NOT_FINITE or (
            isinstance(node, Unary) and isinstance(node.operand, Name) and node.operand.id in NOT_FINITE):
        name = node.id if isinstance(node, Name) else node.operand.id
        raise ModelFormatError(f"{name} is not a usable weight or setting (only finite numbers are)")
    return None


def setting_field(kind, name):
    """Which field of a step the flat constant ``name`` holds, judged by its ending."""
    matches = [f for f in STEP_FIELDS[kind] if name.endswith("_" + f)]
    return max(matches, key=len) if matches else None


def transposed(value):
    if isinstance(value, InputSignal):
        return replace(value, transposed=not value.transposed)
    if isinstance(value, LayerSignal):
        return LayerSignal(value.layer, value.undone, not value.transposed)
    raise UnsupportedError("only inputs and outputs may be transposed")


def is_one(array):
    return array is not None and array.shape == (1, 1) and array[0, 0] == 1


def as_sum(value):
    if isinstance(value, Constant):
        if value.value.ndim != 2 or value.value.shape[1] != 1:
            shape = "x".join(map(str, value.value.shape))
            raise UnsupportedError(f"a bias must be a column vector; {value.name or 'this one'} is {shape}")
        return value.value.reshape(-1), ()
    if isinstance(value, Term):
        return None, (value,)
    if isinstance(value, WeightedSum):
        return value.bias, value.terms
    raise UnsupportedError("a sum must add biases and weighted inputs, as in repmat(b1,1,Q) + IW1_1*xp1")


def sum_parts(left, right):
    biases = [b for b in (left[0], right[0]) if b is not None]
    if len(biases) == 2 and biases[0].size != biases[1].size and 1 not in (biases[0].size, biases[1].size):
        raise ModelFormatError(f"biases of {biases[0].size} and {biases[1].size} values are added")
    bias = None
    if biases:
        bias = biases[0] if len(biases) == 1 else np.add(*np.broadcast_arrays(*biases))
    return bias, left[1] + right[1]
