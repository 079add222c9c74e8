"""What a variable of a genFunction simulation holds, as the reader sees it.

Descriptions, never numbers: a network input with the processing steps applied
so far, a weighted sum b + W*x + ..., a layer's output with output steps undone
so far, a constant, or boilerplate (cell handling, sample counts).
"""

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


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
