"""Symbolic stage: a Network becomes a straight-line sympy program y(x)
in raw, un-normalized units, normalization maps included.

There is one symbol per intermediate quantity (processed input, net input,
activation, output), so that derivatives taken on this graph grow linearly
with depth.  Weights are exact Floats (every double kept) or, on request,
IndexedBase symbols so that the formula itself can be shown.
"""

import copy
from dataclasses import dataclass

import sympy as sp

from ..ir import output_map as output_maps
from ..ir.network import Network
from .program import Assignment, Block, Program

WEIGHT_MODES = ("numeric", "symbolic")


@dataclass(frozen=True)
class SymbolicOptions:
    """``weights``: "numeric" (exact Floats) or "symbolic" (IndexedBase symbols)."""

    weights: str = "numeric"

    def __post_init__(self):
        if self.weights not in WEIGHT_MODES:
            raise ValueError(f"weights must be one of {WEIGHT_MODES}, got {self.weights!r}")


def input_symbols(n_inputs):
    return tuple(sp.Symbol(f"x_{k}", real=True) for k in range(n_inputs))


def forward_program(net: Network, options: SymbolicOptions = SymbolicOptions()) -> Program:
    """The network's forward pass as a Program with one block, ``value``."""
    builder = _Builder(options.weights == "symbolic")
    xs = input_symbols(net.n_inputs)
    processed = builder.process_inputs(net, xs)
    for index, layer in enumerate(net.layers):
        builder.layer(index, layer, processed)
    outputs = builder.outputs(net, builder.activations)
    return Program(xs, tuple(builder.assignments), (Block("value", (len(outputs),), tuple(outputs)),))


class _Builder:
    """Collects assignments while the network is walked once, input to output."""

    def __init__(self, symbolic_weights):
        self.symbolic_weights = symbolic_weights
        self.assignments = []
        self.activations = []
        self.differences = 0

    def assign(self, name, expr, partials=()):
        expr = sp.sympify(expr)
        if expr.is_Symbol or expr.is_Number:
            return expr
        target = sp.Symbol(name, real=True)
        self.assignments.append(Assignment(target, expr, partials))
        return target

    def bind(self, expr):
        """Keep a difference as its own quantity (see ir/network.py: no cancellation)."""
        self.differences += 1
        return self.assign(f"s{self.differences}", expr)

    def constant(self, name, index, value):
        if self.symbolic_weights:
            return sp.IndexedBase(name, real=True)[index]
        return sp.Float(float(value))

    def vector(self, name, values):
        return [self.constant(name, (k,), v) for k, v in enumerate(values)]

    def matrix(self, name, values):
        return [[self.constant(name, (j, k), v) for k, v in enumerate(row)] for j, row in enumerate(values)]

    def step(self, prefix, step):
        """A copy of ``step`` whose numbers are sympy constants (Floats or symbols)."""
        symbolic = copy.copy(step)
        for field in step.numeric_fields:
            values = getattr(step, field)
            object.__setattr__(symbolic, field, self.vector(f"{prefix}_{field}", values))
        return symbolic

    def process_inputs(self, net, xs):
        processed, start = [], 0
        for number, inp in enumerate(net.inputs, start=1):
            rows = list(xs[start:start + inp.size])
            start += inp.size
            for step_number, step in enumerate(inp.steps, start=1):
                rows = self.step(f"x{number}_step{step_number}", step).apply(rows, self.bind)
            processed.append([self.assign(f"xp{number}_{r}", e) for r, e in enumerate(rows)])
        return processed

    def layer(self, index, layer, processed):
        number = index + 1
        totals = list(self.vector(f"b{number}", layer.bias))
        for source, weights in layer.input_weights:
            totals = _add_product(totals, self.matrix(f"IW{number}_{source + 1}", weights), processed[source])
        for source, weights in layer.layer_weights:
            totals = _add_product(totals, self.matrix(f"LW{number}_{source + 1}", weights),
                                  self.activations[source])
        nets = [self.assign(f"n{number}_{j}", t) for j, t in enumerate(totals)]
        entry = layer.transfer_function
        if entry.elementwise:
            outputs = [self._elementwise(number, j, entry, layer.transfer_params, n) for j, n in enumerate(nets)]
        else:
            outputs = [self.assign(f"a{number}_{j}", e)
                       for j, e in enumerate(entry.build(self._shifted(number, entry, nets),
                                                                **dict(layer.transfer_params)))]
        self.activations.append(outputs)
        return outputs

    def _shifted(self, number, entry, nets):
        """For a shift-invariant function (softmax), the net inputs minus their maximum, so
        that no exp overflows.  The maximum is a constant for derivatives: f(n - c) = f(n)
        for any c, so every derivative taken with c held fixed is exact."""
        if not entry.shift_invariant or len(nets) < 2:
            return nets
        constant = tuple((n, sp.Integer(0)) for n in nets if n.is_Symbol)
        shift = self.assign(f"m{number}", sp.Max(*nets), constant)
        return [n - shift for n in nets]

    def _elementwise(self, number, j, entry, params, n):
        value = entry.expression(n, params)
        if value == n:
            return n
        name = f"a{number}_{j}"
        if not n.is_Symbol:
            return self.assign(name, value)
        target = sp.Symbol(name, real=True)
        derivative = sp.sympify(entry.derivative(n, target, params))
        if entry.second_derivative is not None and not derivative.is_Number:
            # f' is its own quantity with f'' stated: the Hessian then multiplies
            # instead of differentiating the numerically safe form of f' once more.
            slope = sp.Symbol(f"g{number}_{j}", real=True)
            second = entry.curvature(n, target, slope, params)
            partials = ((n, second),) + (((target, sp.Integer(0)),) if target in derivative.free_symbols else ())
            result = self.assign(name, value, ((n, slope),))
            self.assign(slope.name, derivative, partials)
            return result
        return self.assign(name, value, ((n, derivative),))

    def outputs(self, net, activations):
        values = []
        for number, output in enumerate(net.outputs, start=1):
            rows = list(activations[output.layer])
            for step_number, step in reversed(list(enumerate(output.steps, start=1))):
                rows = self.step(f"y{number}_step{step_number}", step).reverse(rows, self.bind)
            maps = output_maps.row_maps(net, output)
            if maps is not None:
                # y gets its own name, then u = E(x, y): E's derivatives multiply y's.
                rows = [expr.xreplace({output_maps.Y: self.assign(f"v{number}_{r}", e)})
                        for r, (expr, e) in enumerate(zip(maps, rows))]
            values.extend(self.assign(f"y{number}_{r}", e) for r, e in enumerate(rows))
        return values


def _add_product(totals, matrix, vector):
    return [t + sp.Add(*[w * v for w, v in zip(row, vector)]) for t, row in zip(totals, matrix)]

