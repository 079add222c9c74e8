"""High-precision reference values by reverse mode: the value and the Jacobian of a
Network at the working precision, with the accuracy of the forward mode of
symnet.reference.high_precision, at a cost that follows the parameter count times the output
rows rather than the units times the inputs.

Forward mode carries 1 + n_inputs components per point through every layer: on
784-512-512-10 that is 785 columns of each layer's affine map per point, where this
carries one column per point forward (the value) and one per output row and point
back (the adjoints of that row): 5 + 50 columns instead of 3,925 at five points.

The same arithmetic as the forward mode, in the other order.  The value pass is the
forward mode at order 0.  Going back, an element-wise layer multiplies each adjoint
by f'(n), rounded once when it was evaluated, exactly (symnet.reference.fixed_point.Dyadic); a
layer's adjoints are carried to its sources by W^T exactly in integer arithmetic
(``transposed_affine``), each column put on one exponent as the forward mode puts
its columns (exact unless it spans more than the working precision plus GUARD_BITS);
a function of the whole layer (softmax) multiplies by its Jacobian transposed in
mpmath, as the forward mode multiplies by its Jacobian.  The processing steps are
affine maps of one row each (``Row``): their slopes are rounded in mpmath as the
forward mode's derivative components are.  Hessians are left to the forward mode.
"""

import mpmath
import numpy as np

from .. import progress
from ..ir.output_map import has_output_map
from ..ir.transfer import lookup
from .fixed_point import Dyadic, transposed_affine
from .high_precision import Layout, elementwise_tables, forward, mpf_of, net_inputs, whole_layer_tables

#: the value pass carries one component per point
VALUE_ONLY = Layout(0, 0)


class Row:
    """One row of a processing step at every point: ``values`` (points,) of mpf, and its
    derivative ``slope`` with respect to the one row it comes from, ``source`` (None for a
    constant).  The steps are affine maps of one row each, with numeric constants."""

    __slots__ = ("values", "slope", "source")
    __array_ufunc__ = None   # numpy scalars defer to Row's reflected operators

    def __init__(self, values, slope, source):
        self.values, self.slope, self.source = values, slope, source

    @classmethod
    def constant(cls, value, count):
        values = np.empty(count, dtype=object)
        values[:] = [mpf_of(value)] * count
        return cls(values, mpmath.mpf(0), None)

    def _shifted(self, offset):
        if isinstance(offset, Row):
            return NotImplemented
        return Row(self.values + mpf_of(offset), self.slope, self.source)

    def __add__(self, other):
        return self._shifted(other)

    __radd__ = __add__

    def __sub__(self, other):
        return self._shifted(-other)

    def __rsub__(self, other):
        return (-self)._shifted(other)

    def __neg__(self):
        return Row(-self.values, -self.slope, self.source)

    def __mul__(self, other):
        if isinstance(other, Row):
            return NotImplemented
        factor = mpf_of(other)
        return Row(self.values * factor, self.slope * factor, self.source)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, Row):
            return NotImplemented
        divisor = mpf_of(other)
        return Row(self.values / divisor, self.slope / divisor, self.source)


def _as_row(row, count):
    """A row a step returned: a Row, or a constant (removed output rows)."""
    return row if isinstance(row, Row) else Row.constant(row, count)


def value_and_jacobian(net, points, rows=None):
    """The raw outputs of ``net`` at the raw inputs ``points`` (count, n_inputs) with their
    first derivatives, at the working precision: an array (outputs, points, components) of
    mpf laid out as ``Layout(net.n_inputs, 1)``, as ``highprecision.forward`` gives it.
    Only the output rows listed in ``rows`` (default: all) get derivatives; the others
    are left zero (all rows have them where an output map makes this the forward mode)."""
    if has_output_map(net):
        return forward(net, np.asarray(points, dtype=float), 1)
    count = len(points)
    inputs = [_processed_rows(inp, points, start) for inp, start in zip(net.inputs, _starts(net.inputs))]
    nets, activations, slopes = _value_pass(net, inputs, count)
    outputs = _output_rows(net, activations, count)
    wanted = [i for i in (range(len(outputs)) if rows is None else rows) if outputs[i][1].source is not None]
    result = np.empty((len(outputs), count, 1 + net.n_inputs), dtype=object)
    result[...] = mpmath.mpf(0)
    for i, (_, row) in enumerate(outputs):
        result[i, :, 0] = row.values
    if wanted:
        input_adjoints = _reverse_pass(net, nets, slopes, [outputs[i] for i in wanted], count)
        jacobian = _raw_jacobian(inputs, input_adjoints, net.n_inputs, len(wanted) * count)
        for position, i in enumerate(wanted):
            result[i, :, 1:] = jacobian[:, position * count:(position + 1) * count].T
    return result


def _starts(inputs):
    starts, start = [], 0
    for inp in inputs:
        starts.append(start)
        start += inp.size
    return starts


def _processed_rows(inp, points, start):
    """The rows of one input after its processing steps, each a Row of one raw input
    (``source``: its index among all raw inputs)."""
    rows = []
    for k in range(inp.size):
        values = np.empty(len(points), dtype=object)
        values[:] = [mpf_of(x) for x in points[:, start + k]]
        rows.append(Row(values, mpmath.mpf(1), start + k))
    for step in inp.steps:
        rows = [_as_row(r, len(points)) for r in step.apply(rows)]
    return rows


def _value_pass(net, inputs, count):
    """The forward mode at order 0, keeping what the way back needs: per layer the net
    inputs (a Dyadic (units, points, 1)), the activations, and the local derivative,
    f'(n) (a Dyadic (units, points)) for an element-wise layer, else per point the Jacobian
    of the whole layer (units, units)."""
    processed = [Dyadic.from_mpf(np.array([r.values for r in rows], dtype=object).reshape(len(rows), count, 1))
                 for rows in inputs]
    nets, activations, slopes = [], [], []
    for layer in progress.over(net.layers, "layer"):
        sources = [processed[s] for s, _ in layer.input_weights] + [activations[s] for s, _ in layer.layer_weights]
        nets.append(net_inputs(layer, sources, VALUE_ONLY, count))
        values = nets[-1][..., 0].to_mpf()
        if lookup(layer.transfer).elementwise:
            tables = elementwise_tables(layer, values, 1)
            activation, slope = tables[..., 0], Dyadic.from_mpf(tables[..., 1])
        else:
            by_point = [whole_layer_tables(layer, list(values[:, p]), 1) for p in range(count)]
            activation = np.array([[mpf_of(a) for a in tables[0]] for tables in by_point], dtype=object).T
            slope = [np.array(tables[1], dtype=object).reshape(layer.size, layer.size) for tables in by_point]
        activations.append(Dyadic.from_mpf(np.asarray(activation, dtype=object).reshape(layer.size, count, 1)))
        slopes.append(slope)
    return nets, activations, slopes


def _output_rows(net, activations, count):
    """(layer index, Row) for every raw output row: its value, and its slope with respect
    to the unit ``source`` of that layer (None for a constant row)."""
    outputs = []
    for output in net.outputs:
        values = activations[output.layer][..., 0].to_mpf()
        rows = [Row(values[u], mpmath.mpf(1), u) for u in range(values.shape[0])]
        for step in reversed(output.steps):
            rows = [_as_row(r, count) for r in step.reverse(rows)]
        outputs.extend((output.layer, row) for row in rows)
    return outputs


def _reverse_pass(net, nets, slopes, seeds, count):
    """The adjoints of every processed input row (a Dyadic (rows, columns) per input, None
    where no output depends on it) for the columns (seed, point), seed-major."""
    columns = len(seeds) * count
    adjoints = [None] * len(net.layers)
    for position, (layer_index, row) in enumerate(seeds):
        seed = np.empty((net.layers[layer_index].size, columns), dtype=object)
        seed[...] = mpmath.mpf(0)
        seed[row.source, position * count:(position + 1) * count] = row.slope
        _accumulate(adjoints, layer_index, Dyadic.from_mpf(seed))
    input_adjoints = [None] * len(net.inputs)
    for index in reversed(range(len(net.layers))):
        layer = net.layers[index]
        if adjoints[index] is None or not (layer.input_weights or layer.layer_weights):
            continue
        net_adjoints = _through_transfer(layer, slopes[index], adjoints[index], count)
        carried = transposed_affine(layer, net_adjoints)
        start = 0
        for store, links in ((input_adjoints, layer.input_weights), (adjoints, layer.layer_weights)):
            for source, weights in links:
                _accumulate(store, source, carried[start:start + weights.shape[1]])
                start += weights.shape[1]
    return input_adjoints


def _accumulate(store, index, adjoints):
    """Add ``adjoints`` to ``store[index]`` exactly."""
    store[index] = adjoints if store[index] is None else store[index] + adjoints


def _through_transfer(layer, slope, adjoints, count):
    """The adjoints of a layer's net inputs from those of its activations: f'(n) times each
    (exact) for an element-wise layer; the whole layer's Jacobian transposed times them,
    in mpmath, for softmax.  Columns are (seed, point), seed-major."""
    seeds = adjoints.shape[1] // count
    if isinstance(slope, Dyadic):
        return Dyadic(np.tile(slope.mantissas, (1, seeds)), np.tile(slope.exponents, (1, seeds))) * adjoints
    values = adjoints.to_mpf()
    result = np.empty(values.shape, dtype=object)
    for p, jacobian in enumerate(slope):
        result[:, p::count] = jacobian.T.dot(values[:, p::count])
    return Dyadic.from_mpf(result)


def _raw_jacobian(inputs, input_adjoints, n_inputs, columns):
    """d(output row)/d(raw input) for every column: an object array (n_inputs, columns) of mpf,
    each processed row's adjoints times its slope, summed exactly per raw input and rounded once."""
    sums = [None] * n_inputs
    for rows, adjoints in zip(inputs, input_adjoints):
        if adjoints is None:
            continue
        for r, row in enumerate(rows):
            if row.source is not None:
                slope = Dyadic.from_mpf(np.array([row.slope] * columns, dtype=object))
                _accumulate(sums, row.source, slope * adjoints[r])
    result = np.empty((n_inputs, columns), dtype=object)
    result[...] = mpmath.mpf(0)
    for k, total in enumerate(sums):
        if total is not None:
            result[k] = total.to_mpf()
    return result
