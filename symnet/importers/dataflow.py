"""The common back end of the graph importers (ONNX, PyTorch): a dataflow graph of
affine maps and element-wise functions becomes a Network.

A frontend walks its graph in order and calls one method per node; every
tensor of the graph is one of two kinds of value:

* ``InputValue``: a raw network input, possibly after element-wise operations
  with constants (``(x - mean) / std``); these become the input's processing
  steps once something non-element-wise consumes the input.
* ``Value``: ``post_scale * E(pre_scale * z + pre_shift) + post_shift`` where
  ``z`` (a ``Linear``) is a layer's net input, a sum of weight matrices times
  sources (inputs or earlier layers), and ``E`` is one sympy expression of the
  element symbol ``n`` shared by all units.  Per-unit affine operations gather in
  ``pre``/``post``, which fold into this layer's or the next layer's weights or
  become output steps; scalar operations, activations and products of values of
  the same ``z`` (SiLU = z * sigmoid(z), GELU = z * (1 + erf(z/sqrt 2)) / 2) compose
  into ``E``, whatever pattern the exporter chose.  When the value is consumed
  by a matrix product, a softmax or a graph output, ``E`` becomes a layer with
  the registry's transfer function it equals, or an ``expression`` transfer.

What does not fit (products of different layers, per-unit constants between
two activations) is refused with the node named.
"""

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np
import sympy as sp

from ..errors import ModelFormatError, UnsupportedError
from ..ir import transfer as transfer_registry
from ..ir.expression_text import composed
from ..ir.network import Affine, Input, Layer, MapStd, Network, Output

N = transfer_registry.elementwise_symbol()
AFFINE_OPS = ("add", "sub", "rsub", "mul", "div")


@dataclass(frozen=True, eq=False)
class Linear:
    """z = offset + sum of terms: ((source, array), ...), source ("input", i) or ("layer", j);
    a 2-D array is a weight matrix, a 1-D array scales a source of the same size element-wise."""

    terms: tuple
    offset: np.ndarray
    name: str = ""
    selection: bool = False   # every matrix row picks (and scales) at most one source element

    @property
    def size(self):
        return self.offset.size

    def has_matrix(self):
        return any(weights.ndim == 2 for _, weights in self.terms)

    def picks_elements(self):
        """True when z only picks and scales source elements: a matrix product folds into it."""
        return self.selection or not self.has_matrix()

    def scaled(self, scale, shift):
        """scale * z + shift, per unit."""
        terms = tuple((source, w * (scale[:, None] if w.ndim == 2 else scale)) for source, w in self.terms)
        return Linear(terms, self.offset * scale + shift, self.name, self.selection)

    def rows(self, indices):
        """The units ``indices`` of z, in that order."""
        terms = tuple((source, (np.diag(w) if w.ndim == 1 else w)[indices]) for source, w in self.terms)
        return Linear(terms, self.offset[indices], self.name, self.picks_elements())


@dataclass(frozen=True, eq=False)
class InputValue:
    index: int
    ops: tuple = ()
    size: Optional[int] = None


@dataclass(frozen=True, eq=False)
class Value:
    root: Linear
    expr: sp.Expr
    pre_scale: np.ndarray
    pre_shift: np.ndarray
    post_scale: np.ndarray
    post_shift: np.ndarray
    label: Optional[tuple] = None

    @property
    def size(self):
        return self.root.size

    @classmethod
    def of(cls, root):
        ones, zeros = np.ones(root.size), np.zeros(root.size)
        return cls(root, N, ones, zeros, ones, zeros)


@dataclass(frozen=True, eq=False)
class MappedValue:
    """An element-wise expression per unit of raw input columns and (``value`` not None) of
    that unit of a network value: u = g(x) + d(x)·y and the like, a network output's map
    (symnet.ir.output_map).  Input columns are ``input_symbol(i, c)`` placeholders until the
    network's input sizes are known; y is ``MAP_Y``."""

    exprs: tuple
    value: Optional[Value] = None

    @property
    def size(self):
        return len(self.exprs)


MAP_Y = sp.Symbol("y", real=True)
MAP_REFUSAL = ("an output map (network outputs times or plus functions of the raw inputs) must be"
               " the last operation before a graph output")


def input_symbol(index, column):
    return sp.Symbol(f"_input{index}_{column}", real=True)


def _identity(scale, shift):
    return bool(np.all(scale == 1.0) and np.all(shift == 0.0))


def _uniform(*arrays):
    return all(bool(np.all(a == a.flat[0])) for a in arrays if a.size)


class NetworkBuilder:
    """Collects inputs, layers and outputs while a frontend walks its graph."""

    def __init__(self, name):
        self.name = name
        self.inputs = []       # [name, size, ops or None (not yet consumed)]
        self.layers = []
        self.outputs = []
        self._committed = {}   # id(value) -> (value, layer index)
        self._absorbed_values = {}   # id(value) -> (value, value with its uniform post in E)
        self._input_values = {}  # id(input value) -> (input value, Value)
        self._purelins = {}      # id(value) -> (value, index of the purelin layer holding it)
        self._compositions = {}  # (function(N), argument) -> function(argument) or None
        self.output_maps = {}    # output index -> per-unit expressions (MappedValue.exprs)

    # --- values -----------------------------------------------------------------

    def add_input(self, name, size=None):
        self.inputs.append([name, size, None])
        return InputValue(len(self.inputs) - 1, (), size)

    def constant_op(self, value, op, constant, where):
        """``value op constant`` for op in AFFINE_OPS (rsub: constant - value)."""
        size = value.size
        vector = self._per_unit(constant, size, where)
        if isinstance(value, MappedValue):
            vector = np.broadcast_to(vector, (size,))
            operation = {"add": lambda e, c: e + c, "sub": lambda e, c: e - c, "rsub": lambda e, c: c - e,
                         "mul": lambda e, c: e * c, "div": lambda e, c: e / c}[op]
            return replace(value, exprs=tuple(operation(e, _number(c)) for e, c in zip(value.exprs, vector)))
        if isinstance(value, InputValue):
            if vector.size > 1 and size is None:
                value = replace(value, size=vector.size)
            return replace(value, ops=value.ops + ((op, vector),))
        vector = np.broadcast_to(vector, (size,)).astype(float)
        scale, shift = value.post_scale, value.post_shift
        if op == "add":
            shift = shift + vector
        elif op == "sub":
            shift = shift - vector
        elif op == "rsub":
            scale, shift = -scale, vector - shift
        elif op == "mul":
            scale, shift = scale * vector, shift * vector
        elif op == "div":
            scale, shift = scale / vector, shift / vector
        else:
            raise ValueError(op)
        return replace(value, post_scale=scale, post_shift=shift, label=None)

    def unary(self, value, function, where, label=None):
        """An element-wise function (sympy expression -> sympy expression) of ``value``.

        It composes into ``E`` while that stays small (``expression_text.composed``); otherwise ``E`` so far
        becomes a layer and the function starts a new ``E`` on that layer's output (exact
        either way), so a chain of any length costs the same per operation."""
        if isinstance(value, MappedValue):
            return replace(value, exprs=tuple(sp.sympify(function(e)) for e in value.exprs))
        value = self._normalized(self.as_value(value, where))
        argument = self._applied_post(value, where, "an activation")
        key = (sp.sympify(function(N)), argument)   # a chain of one operation repeats its compositions
        if key not in self._compositions:
            self._compositions[key] = composed(function, argument)
        expr = self._compositions[key]
        if expr is None:
            value = Value.of(self.materialize(value, where))
            expr = sp.sympify(function(N))
        plain = value.expr == N and _identity(value.post_scale, value.post_shift)
        ones, zeros = np.ones(value.size), np.zeros(value.size)
        return replace(value, expr=expr, post_scale=ones, post_shift=zeros, label=label if plain else None)

    def binary(self, a, op, b, where):
        """``a op b`` for two graph values (not constants), op in add, sub, mul, div."""
        mapped = self._mapped_binary(a, op, b, where)
        if mapped is not None:
            return mapped
        if op in ("mul", "div") and isinstance(a, InputValue) and isinstance(b, InputValue) \
                and (a.index != b.index or not _same_ops(a.ops, b.ops)):
            raise UnsupportedError(f"{where}: multiplies or divides two inputs (or two scalings of one, as a"
                                   " hard boundary condition x*(1-x)*net(x) does); such products are not"
                                   " supported yet")
        a, b = self.as_value(a, where, getattr(b, "size", None)), self.as_value(b, where, getattr(a, "size", None))
        if a.size != b.size:
            raise ModelFormatError(f"{where}: operands have {a.size} and {b.size} features")
        if a.root is b.root:
            a, b = self._normalized(a), self._normalized(b)
            if not _same_pre(a, b) and _uniform(a.pre_scale, a.pre_shift, b.pre_scale, b.pre_shift):
                a, b = _absorb_pre(a), _absorb_pre(b)
            same_pre = _same_pre(a, b)
            posts_uniform = _uniform(a.post_scale, a.post_shift, b.post_scale, b.post_shift)
            if same_pre and posts_uniform:
                left, right = self._applied_post(a, where), self._applied_post(b, where)
                expr = {"add": left + right, "sub": left - right, "mul": left * right, "div": left / right}[op]
                ones, zeros = np.ones(a.size), np.zeros(a.size)
                return replace(a, expr=expr, post_scale=ones, post_shift=zeros, label=None)
        if op not in ("add", "sub"):
            raise UnsupportedError(f"{where}: multiplies or divides the outputs of two different layers"
                                   " (or with different per-unit scaling, or a layer by an input, as a hard"
                                   " boundary condition x*(1-x)*net(x) does); such products are not supported yet")
        left, right = self.materialize(a, where), self.materialize(b, where)
        if op == "sub":
            right = right.scaled(-np.ones(right.size), np.zeros(right.size))
        name = left.name or right.name
        return Value.of(Linear(_merge_terms(left.terms, right.terms), left.offset + right.offset, name))

    def piecewise(self, subject, relation, bound, chosen, otherwise, where):
        """``chosen`` where ``subject relation bound`` holds, else ``otherwise`` (ONNX Where of a
        comparison with a constant: a threshold, a ReLU written as a choice).  The three are values
        of one net input, or scalar constants; the choice composes into E."""
        bound = float(_scalar_constant(bound, where))
        parts = [subject, chosen, otherwise]
        values = [self._normalized(self.as_value(p, where)) for p in parts if not isinstance(p, np.ndarray)]
        if any(v.root is not values[0].root for v in values):
            raise UnsupportedError(f"{where}: chooses between values of different layers, which is not supported")
        if not all(_same_pre(values[0], v) for v in values) and \
                _uniform(*[a for v in values for a in (v.pre_scale, v.pre_shift)]):
            values = [_absorb_pre(v) for v in values]
        if not all(_same_pre(values[0], v) for v in values) or \
                not _uniform(*[a for v in values for a in (v.post_scale, v.post_shift)]):
            raise UnsupportedError(f"{where}: per-unit constants inside a choice cannot be folded")
        exprs, remaining = [], iter(values)
        for part in parts:
            exprs.append(sp.Float(_scalar_constant(part, where)) if isinstance(part, np.ndarray)
                         else self._applied_post(next(remaining), where))
        condition = {"greater": exprs[0] > bound, "less": exprs[0] < bound,
                     "greater_equal": exprs[0] >= bound, "less_equal": exprs[0] <= bound}[relation]
        expr = sp.Piecewise((exprs[1], condition), (exprs[2], True))
        ones, zeros = np.ones(values[0].size), np.zeros(values[0].size)
        return replace(values[0], expr=expr, post_scale=ones, post_shift=zeros, label=None)

    def linear(self, value, weights, bias, where, name=""):
        """weights (units x features) @ value + bias: a matrix product (Gemm, MatMul, Linear);
        ``name`` becomes the layer's name."""
        weights = np.asarray(weights, dtype=float)
        if weights.ndim != 2:
            raise ModelFormatError(f"{where}: weights must be a matrix, got shape {weights.shape}")
        # Checked here, before the weights meet the source's offset: a NaN would otherwise
        # surface first in the composed bias and be reported there.
        require_finite(weights, where, "weights")
        require_finite(bias, where, "bias")
        if value.size is not None and value.size != weights.shape[1]:
            raise ModelFormatError(f"{where}: weights take {weights.shape[1]} features but receive {value.size}")
        source = self.materialize(value, where, weights.shape[1])
        if not source.picks_elements():
            source = self._linear_of_layer(self._purelin_layer(value, source, where))
        terms = tuple((src, weights * w[None, :] if w.ndim == 1 else weights @ w) for src, w in source.terms)
        offset = weights @ source.offset + np.broadcast_to(np.asarray(bias, dtype=float), weights.shape[:1])
        return Value.of(Linear(terms, offset, name))

    def concat(self, values, where):
        """The features of ``values`` one after the other (cat, hstack, Concat): a map that
        picks elements of their sources, which folds into the next matrix product."""
        linears = [self.materialize(value, where) for value in values]
        total = sum(linear.size for linear in linears)
        blocks, start = {}, 0
        for linear in linears:
            for source, weights in linear.terms:
                matrix = np.diag(weights) if weights.ndim == 1 else weights
                if source not in blocks:
                    blocks[source] = np.zeros((total, matrix.shape[1]))
                blocks[source][start:start + linear.size] = matrix
            start += linear.size
        offset = np.concatenate([linear.offset for linear in linears])
        picks = all(linear.picks_elements() for linear in linears)
        return Value.of(Linear(tuple(blocks.items()), offset, "", picks))

    def select(self, value, indices, where):
        """The features ``indices`` of ``value``, in that order (slicing, split, Gather).

        The value keeps its activation and takes the rows of its net input: the units
        picked are computed where they are used, and no layer is added for the choice."""
        indices = np.asarray(indices, dtype=int)
        value = self._normalized(self.as_value(value, where))
        return replace(value, root=value.root.rows(indices), pre_scale=value.pre_scale[indices],
                       pre_shift=value.pre_shift[indices], post_scale=value.post_scale[indices],
                       post_shift=value.post_shift[indices])

    def softmax(self, value, where, name=""):
        """Softmax over the features of ``value``: a layer of its own."""
        linear = replace(self.materialize(value, where), name=name)
        layer = self._commit_layer(linear, ("softmax", ()), where)
        return Value.of(self._linear_of_layer(layer))

    def layer_norm(self, value, scale, shift, eps, where, name="", center=True):
        """Layer normalization over the features of ``value``: scale∘(z - mean z)/sqrt(var z + eps) + shift.

        The centering (I - 11ᵀ/n)·z is affine: it folds into the net input of an ``rms_norm``
        layer, z/sqrt(mean z² + eps).  ``scale`` and ``shift`` (None: absent) become the
        per-unit map of that layer's output, which folds into the next matrix product or
        becomes a diagonal net input of the next activation's layer.  Without ``center``:
        RMSNorm, z/sqrt(mean z² + eps)·scale."""
        linear = self.materialize(value, where)
        size = linear.size
        centering = np.eye(size) - 1.0 / size if center else np.eye(size)
        terms = tuple((source, centering @ (np.diag(w) if w.ndim == 1 else w)) for source, w in linear.terms)
        centered = Linear(terms, centering @ linear.offset, name)
        layer = self._commit_layer(centered, ("rms_norm", transfer_registry.normalize_parameters(
            "rms_norm", (("eps", eps),))), where)
        scale = np.ones(size) if scale is None else np.broadcast_to(np.asarray(scale, float), (size,))
        shift = np.zeros(size) if shift is None else np.broadcast_to(np.asarray(shift, float), (size,))
        require_finite(scale, where, "scale")
        require_finite(shift, where, "bias")
        return Value.of(self._linear_of_layer(layer).scaled(scale, shift))

    def output(self, value, name, where):
        """Declare ``value`` a network output."""
        if isinstance(value, MappedValue):
            if value.value is None:
                raise UnsupportedError(f"{where}: the output {name!r} does not pass through any layer")
            self.output(value.value, name, where)
            self.output_maps[len(self.outputs) - 1] = value.exprs
            return
        if isinstance(value, InputValue):
            raise UnsupportedError(f"{where}: the output {name!r} does not pass through any layer")
        if value.expr != N:
            layer = self.commit(value, where)
        else:
            known = self._purelins.get(id(value))
            layer = known[1] if known else self._plain_layer(value.root.scaled(value.pre_scale, value.pre_shift), where)
        self.outputs.append(Output(name, layer, _output_steps(value.post_scale, value.post_shift, where)))

    def network(self):
        inputs = []
        for name, size, ops in self.inputs:
            if size is None:
                raise ModelFormatError(f"cannot tell the size of input {name!r}: no layer reads it")
            inputs.append(Input(name, size, _input_steps(ops or (), size)))
        return Network(inputs, self.layers, self._mapped_outputs(), name=self.name)

    def _mapped_outputs(self):
        """The outputs, with their maps written over the raw input symbols x_0, x_1, ..."""
        starts = np.cumsum([0] + [size for _, size, _ in self.inputs])
        raw = {input_symbol(i, c): sp.Symbol(f"x_{starts[i] + c}", real=True)
               for i, (_, size, _) in enumerate(self.inputs) for c in range(size)}
        outputs = list(self.outputs)
        for index, exprs in self.output_maps.items():
            outputs[index] = replace(outputs[index], output_map=tuple(e.xreplace(raw) for e in exprs))
        return outputs

    # --- output maps ---------------------------------------------------------------

    def _mapped_binary(self, a, op, b, where):
        """``a op b`` as a MappedValue where it is an output map's arithmetic: a product (or
        quotient) of a network value and a function of the raw inputs, of two functions of
        different raw inputs, or anything with a MappedValue; None otherwise."""
        if not isinstance(a, MappedValue) and not isinstance(b, MappedValue):
            if op not in ("mul", "div"):
                return None
            kinds = [self._input_function(v, where) is not None for v in (a, b)]
            networks = [self._is_network(v) for v in (a, b)]
            if not any(kinds) or not all(k or n for k, n in zip(kinds, networks)):
                return None
            if isinstance(a, InputValue) and isinstance(b, InputValue):
                if a.index == b.index and _same_ops(a.ops, b.ops):
                    return None   # one input: composes into E as before
            elif isinstance(a, Value) and isinstance(b, Value) and a.root is b.root:
                return None   # one root: composes into E as before
        left, right = self._as_mapped(a, where), self._as_mapped(b, where)
        if left.value is not None and right.value is not None and left.value is not right.value:
            raise UnsupportedError(f"{where}: combines two different network values in an output map,"
                                   " which is not supported")
        size = max(left.size, right.size)
        if {left.size, right.size} - {1, size}:
            raise ModelFormatError(f"{where}: operands have {left.size} and {right.size} features")
        operation = {"add": lambda p, q: p + q, "sub": lambda p, q: p - q,
                     "mul": lambda p, q: p * q, "div": lambda p, q: p / q}[op]
        exprs = tuple(operation(left.exprs[j if left.size > 1 else 0], right.exprs[j if right.size > 1 else 0])
                      for j in range(size))
        return MappedValue(exprs, left.value if left.value is not None else right.value)

    def _as_mapped(self, value, where):
        if isinstance(value, MappedValue):
            return value
        inputs = self._input_function(value, where)
        if inputs is not None:
            return MappedValue(inputs)
        if not self._is_network(value):
            raise UnsupportedError(f"{where}: an output map reads a normalized input, which is not supported")
        return MappedValue((MAP_Y,) * value.size, value)

    @staticmethod
    def _is_network(value):
        """True for a value some layer computes (not a function of input elements alone)."""
        return isinstance(value, Value) and (not value.root.picks_elements() or
                                             any(kind != "input" for (kind, _), _ in value.root.terms))

    def _input_function(self, value, where):
        """Per-unit expressions of the raw input columns equal to ``value``, or None when it
        is not an element-wise function of raw inputs (a network value)."""
        if isinstance(value, InputValue):
            size = value.size or self.inputs[value.index][1]
            if size is None:
                return None
            rows = [input_symbol(value.index, c) for c in range(size)]
            for op, vector in value.ops:
                vector = np.broadcast_to(vector, (size,))
                operation = {"add": lambda e, c: e + c, "sub": lambda e, c: e - c, "rsub": lambda e, c: c - e,
                             "mul": lambda e, c: e * c, "div": lambda e, c: e / c}[op]
                rows = [operation(e, _number(c)) for e, c in zip(rows, vector)]
            return tuple(rows)
        if not isinstance(value, Value) or not value.root.picks_elements() or \
                any(kind != "input" for (kind, _), _ in value.root.terms):
            return None
        if any(self.inputs[index][2] for (_, index), _ in value.root.terms):
            return None   # processed inputs: the map would need their steps too
        exprs = []
        for j in range(value.size):
            total = _number(value.root.offset[j])
            for (_, index), weights in value.root.terms:
                row = np.diag(weights)[j] if weights.ndim == 1 else weights[j]
                total += sp.Add(*[_number(w) * input_symbol(index, c) for c, w in enumerate(row) if w != 0.0])
            inner = _number(value.pre_scale[j]) * total + _number(value.pre_shift[j])
            expr = _number(value.post_scale[j]) * value.expr.xreplace({N: inner}) + _number(value.post_shift[j])
            # whole numbers as Integers: the same values, and x*(1 - x) reads as written
            exprs.append(expr.xreplace({f: _number(f) for f in expr.atoms(sp.Float)}))
        return tuple(exprs)

    # --- turning values into layers ------------------------------------------------

    def as_value(self, value, where, size=None):
        """A Value for ``value``; the same input value always gives the same root."""
        if isinstance(value, MappedValue):
            raise UnsupportedError(f"{where}: {MAP_REFUSAL}")
        if not isinstance(value, InputValue):
            return value
        known = self._input_values.get(id(value))
        if known is None:
            known = self._input_values[id(value)] = (value, Value.of(self.materialize(value, where, size)))
        return known[1]

    def materialize(self, value, where, size=None):
        """The Linear map of sources equal to ``value`` (committing its layer if it has one)."""
        if isinstance(value, MappedValue):
            raise UnsupportedError(f"{where}: {MAP_REFUSAL}")
        if isinstance(value, InputValue):
            size = self._freeze_input(value, size, where)
            return Linear(((("input", value.index), np.ones(size)),), np.zeros(size))
        value = self._normalized(value)
        if value.expr == N:
            return value.root.scaled(value.pre_scale, value.pre_shift)
        value = self._absorbed(value)
        layer = self.commit(value, where)
        return self._linear_of_layer(layer).scaled(value.post_scale, value.post_shift)

    def _absorbed(self, value):
        """``_absorb_post`` once per value, so that a value used twice commits one layer."""
        known = self._absorbed_values.get(id(value))
        if known is None:
            known = self._absorbed_values[id(value)] = (value, _absorb_post(value))
        return known[1]

    def commit(self, value, where):
        """The layer index of ``value``'s activation E (made once per value)."""
        known = self._committed.get(id(value))
        if known is not None:
            return known[1]
        transfer = value.label or transfer_registry.expression_transfer(value.expr)
        root = value.root.scaled(value.pre_scale, value.pre_shift)
        index = self._commit_layer(root, transfer, where)
        self._committed[id(value)] = (value, index)
        return index

    def _commit_layer(self, linear, transfer, where):
        name, params = transfer
        input_weights, layer_weights = [], []
        for (kind, index), weights in linear.terms:
            matrix = np.diag(weights) if weights.ndim == 1 else weights
            (input_weights if kind == "input" else layer_weights).append((index, matrix))
        self.layers.append(Layer(linear.size, name, linear.offset, tuple(input_weights), tuple(layer_weights),
                                 transfer_params=params, name=linear.name))
        return len(self.layers) - 1

    def _purelin_layer(self, value, linear, where):
        """The purelin layer holding ``linear`` (the matrix map ``value`` stands for) before a
        matrix product reads it: one per value, however many products read it."""
        known = self._purelins.get(id(value))
        if known is None:
            known = self._purelins[id(value)] = (value, self._commit_layer(linear, ("purelin", ()), where))
        return known[1]

    def _plain_layer(self, linear, where):
        """A layer whose activations equal ``linear``: an existing one, or a new purelin layer."""
        if len(linear.terms) == 1 and not np.any(linear.offset):
            (kind, index), weights = linear.terms[0]
            if kind == "layer" and weights.ndim == 1 and np.all(weights == 1.0):
                return index
        return self._commit_layer(linear, ("purelin", ()), where)

    def _linear_of_layer(self, index):
        size = self.layers[index].size
        return Linear(((("layer", index), np.ones(size)),), np.zeros(size), "")

    @staticmethod
    def _normalized(value):
        """Affine-only values keep their scaling in ``pre`` (it folds into the layer's weights)."""
        if value.expr == N and not _identity(value.post_scale, value.post_shift):
            ones, zeros = np.ones(value.size), np.zeros(value.size)
            value = replace(value, pre_scale=value.post_scale * value.pre_scale,
                            pre_shift=value.post_scale * value.pre_shift + value.post_shift,
                            post_scale=ones, post_shift=zeros)
        return value

    def _applied_post(self, value, where, what="this operation"):
        if not _uniform(value.post_scale, value.post_shift):
            raise UnsupportedError(f"{where}: per-unit constants between two activations cannot be"
                                   f" folded into {what}")
        return _affine_expr(value.post_scale.flat[0], value.post_shift.flat[0], value.expr)

    def _freeze_input(self, value, size, where):
        record = self.inputs[value.index]
        size = record[1] or value.size or size
        if size is None:
            raise ModelFormatError(f"{where}: cannot tell the size of input {record[0]!r}")
        if record[1] is not None and record[1] != size:
            raise ModelFormatError(f"{where}: input {record[0]!r} has {record[1]} features, used as {size}")
        for _, vector in value.ops:
            if vector.size not in (1, size):
                raise ModelFormatError(f"{where}: a constant of {vector.size} values meets {size} features")
        if record[2] is not None and not _same_ops(record[2], value.ops):
            raise UnsupportedError(f"{where}: input {record[0]!r} is used with two different normalizations")
        record[1], record[2] = size, value.ops
        return size

    @staticmethod
    def _per_unit(constant, size, where):
        array = np.asarray(constant, dtype=float)
        if not np.all(np.isfinite(array)):
            raise ModelFormatError(f"{where}: constant contains NaN or Inf")
        if array.size == 1:
            return array.reshape(1)
        if array.shape[-1] != array.size or (size is not None and array.size != size):
            raise UnsupportedError(f"{where}: a constant of shape {array.shape} does not act per feature"
                                   f" on {size or 'the'} features")
        return array.reshape(-1)


def _number(value):
    """A double as sympy: an Integer where it is a whole number (the same value, and
    x*(1 - x) reads as written), else the exact Float."""
    value = float(value)
    return sp.Integer(int(value)) if value.is_integer() and abs(value) < 2**53 else sp.Float(value)


def _scalar_constant(array, where):
    array = np.asarray(array, dtype=float)
    if array.size != 1 and not np.all(array == array.flat[0]):
        raise UnsupportedError(f"{where}: needs a single constant, got {array.size} different values")
    return float(array.flat[0])


def require_finite(values, where, what):
    """One line naming ``where`` and ``what`` when ``values`` hold a NaN or an Inf."""
    if not np.all(np.isfinite(np.asarray(values, dtype=float))):
        raise ModelFormatError(f"{where}: NaN or Inf in the {what}")


def _affine_expr(scale, shift, expr):
    scale, shift = float(scale), float(shift)
    result = expr if scale == 1.0 else sp.Float(scale) * expr
    return result if shift == 0.0 else result + sp.Float(shift)


def _same_pre(a, b):
    return np.array_equal(a.pre_scale, b.pre_scale) and np.array_equal(a.pre_shift, b.pre_shift)


def _absorb_pre(value):
    """The same value with a uniform ``pre`` written into E (so that E's of one root can combine)."""
    if _identity(value.pre_scale, value.pre_shift):
        return value
    inner = _affine_expr(value.pre_scale.flat[0], value.pre_shift.flat[0], N)
    ones, zeros = np.ones(value.size), np.zeros(value.size)
    return replace(value, expr=value.expr.subs(N, inner), pre_scale=ones, pre_shift=zeros, label=None)


def _absorb_post(value):
    """The same value with a uniform ``post`` written into E (an activation then a scalar)."""
    if value.expr == N or not _uniform(value.post_scale, value.post_shift) \
            or _identity(value.post_scale, value.post_shift):
        return value
    expr = _affine_expr(value.post_scale.flat[0], value.post_shift.flat[0], value.expr)
    ones, zeros = np.ones(value.size), np.zeros(value.size)
    return replace(value, expr=expr, post_scale=ones, post_shift=zeros, label=None)


def _merge_terms(left, right):
    merged = dict(left)
    for source, weights in right:
        if source in merged:
            other = merged[source]
            if other.ndim == 1 and weights.ndim == 1:
                merged[source] = other + weights
            else:
                as_matrix = [np.diag(w) if w.ndim == 1 else w for w in (other, weights)]
                merged[source] = as_matrix[0] + as_matrix[1]
        else:
            merged[source] = weights
    return tuple(merged.items())


def _same_ops(a, b):
    return len(a) == len(b) and all(x[0] == y[0] and np.array_equal(x[1], y[1]) for x, y in zip(a, b))


def _input_steps(ops, size):
    """Processing steps for element-wise constant operations on a raw input, in order;
    an offset followed by a scaling is one mapstd step, as a scaler writes it."""
    steps, position = [], 0
    while position < len(ops):
        op, c = ops[position]
        following = ops[position + 1] if position + 1 < len(ops) else (None, None)
        if op in ("add", "sub") and following[0] in ("mul", "div"):
            gain = following[1] if following[0] == "mul" else 1.0 / following[1]
            steps.append(MapStd(c if op == "sub" else -c, gain, 0.0))
            position += 2
            continue
        if op == "mul" and following[0] in ("add", "sub"):
            steps.append(Affine(c, following[1] if following[0] == "add" else -following[1]))
            position += 2
            continue
        steps.append({"add": lambda: Affine(1.0, c), "sub": lambda: Affine(1.0, -c),
                      "mul": lambda: Affine(c, 0.0), "div": lambda: Affine(1.0 / c, 0.0),
                      "rsub": lambda: Affine(-1.0, c)}[op]())
        position += 1
    # a scalar constant applies to every row
    return [type(s)(*[np.broadcast_to(getattr(s, f), (size,)) for f in s.numeric_fields]) for s in steps]


def _output_steps(scale, shift, where):
    """Output steps whose reverse is y = scale * a + shift."""
    if _identity(scale, shift):
        return ()
    if np.any(scale == 0):
        raise UnsupportedError(f"{where}: an output multiplied by zero cannot be represented")
    if np.all(scale == 1.0):
        return (Affine(np.ones(scale.size), -shift),)
    return (MapStd(shift, 1.0 / scale, 0.0),)
