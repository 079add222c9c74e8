"""Layered derive stage: value, Jacobian and Hessian of a LayeredNetwork as a
short list of array steps that every target turns into loops or matrix products.

    Jacobian  J = D_out · W_L · diag(f'_{L-1}) ··· W_1 · D_in   (D_in, D_out folded into W)

accumulated layer by layer: forward (tangents dn/dx, one column per input) when
there are no more inputs than outputs, reverse (adjoints dy/dn, one row per
output) otherwise.  The Hessian is forward-over-reverse: the forward tangents,
then the reverse sweep together with its own tangent.  Quantities known when
the code is generated (a tangent that is a weight matrix, the adjoint of a
linear output layer) are computed here once and emitted as constants.

The steps themselves are in ``steps``.
"""


import numpy as np
import sympy as sp

from ..ir.derivative_spec import WHOLE, spec_of
from . import directional, whole_layer
from .pairing import paired_products
from .network import A, D, N, LayeredNetwork
from .steps import (ADJOINT, ADJOINT_TANGENT, TANGENT, VECTOR, Elementwise, Gather, LayeredProgram, Linear,
                    Operand, OuterSum, OutputMap, Reduction, Scale, SecondOrder, Shift, Symmetrize, Term,
                    live_steps, map_symbols, reads, weight_names, written)


def layered_program(layered: LayeredNetwork, what: str) -> LayeredProgram:
    """The steps computing ``what`` (a canonical name of symnet.ir.derivative_spec: "value",
    "gradient", "jacobian", "hessian", or a directional derivative, see ``directional``)
    of a LayeredNetwork."""
    builder = _Builder(layered)
    if what not in WHOLE:
        result, shape = directional.build(builder, spec_of(what))
    elif any(e is not None for e in layered.output_maps):
        result, shape = builder.mapped(what)
    elif what == "value":
        builder.forward()
        result = builder.gather_values()
        shape = (layered.n_outputs,)
    elif what in ("gradient", "jacobian"):
        builder.forward(slopes=True)
        if layered.jacobian_mode == "forward":
            builder.forward_tangents()
            result = builder.gather_jacobian()
        else:
            result = builder.reverse()
        shape = (layered.n_inputs,) if what == "gradient" else (layered.n_outputs, layered.n_inputs)
    elif what == "hessian":
        builder.forward(slopes=True, curvatures=True)
        builder.forward_tangents()
        result = builder.outer_hessian() if builder.outer_form_is_cheaper() else builder.reverse(second_order=True)
        shape = (layered.n_outputs, layered.n_inputs, layered.n_inputs)
    else:
        raise ValueError(f"unknown derivative {what!r}")
    steps = live_steps(builder.steps, result)
    if what not in WHOLE:   # the value and tangent sweeps read the same weights: side by side
        steps = paired_products(steps)
    used = {operand.name for step in steps for operand in reads(step)} | weight_names(steps)
    names = written(steps)
    return LayeredProgram(what, shape, steps,
                          tuple((name, value) for name, value in builder.constants.items() if name in used),
                          result, tuple((a, shape) for a, shape in builder.arrays if a.name in names))


class _Builder:
    """Emits steps while walking the layers; folds what is known at generation time."""

    def __init__(self, layered):
        self.net = layered
        self.steps, self.arrays, self.constants = [], [], {}
        self.extent = {"in": layered.n_inputs, "out": layered.n_outputs}
        self.live = layered.live_layers()
        varying = layered.depends_on_inputs()
        self.varying = tuple(index for index in self.live if index in varying)
        self.net_input, self.activation, self.slope, self.curvature = {}, {}, {}, {}
        self.auxiliary = {}     # per whole-layer index: {symbol: Operand} (symnet.layered.whole_layer)
        self.tangent_net, self.tangent, self.adjoint = {}, {}, {}

    # --- arrays ---------------------------------------------------------------

    def constant(self, name, value, axes=VECTOR):
        value = np.array(value, dtype=float)
        if name in self.constants and not np.array_equal(self.constants[name], value):
            raise AssertionError(f"two values for the constant {name}")
        self.constants[name] = value
        return Operand(name, axes, True)

    def variable(self, name, axes, size):
        operand = Operand(name, axes)
        self.arrays.append((operand, tuple(self.extent[a] for a in axes) + (size,)))
        return operand

    def weights(self, index, source, matrix):
        """Name of the weight constant of layer ``index`` reading ``source`` ("x" or a layer index)."""
        label = "x" if source == "x" else source + 1
        return self.constant(f"W{index + 1}_{label}", matrix, ("w",)).name

    # --- forward pass ---------------------------------------------------------

    def forward(self, slopes=False, curvatures=False):
        z = self.shifted_inputs()
        for index in self.live:
            layer = self.net.layers[index]
            terms = [Term(self.weights(index, "x", layer.input_weights), z, self.net.n_inputs, False)] \
                if layer.input_weights is not None else []
            terms += [Term(self.weights(index, s, w), self.activation[s], self.net.layers[s].size, False)
                      for s, w in layer.layer_weights]
            n = self.variable(f"n{index + 1}", VECTOR, layer.size)
            self.steps.append(Linear(n, layer.size, self.constant(f"B{index + 1}", layer.bias), tuple(terms)))
            self.net_input[index] = n
            self.activation[index] = n if layer.form.identity else self.variable(f"a{index + 1}", VECTOR, layer.size)
            if not layer.form.elementwise:
                self.whole_layer(index, layer, slopes and index in self.varying)
            elif not layer.form.identity:
                self.activate(index, layer, slopes and index in self.varying,
                              curvatures and index in self.varying and not layer.form.linear)

    def shifted_inputs(self):
        x = Operand("x", VECTOR)
        if not np.any(self.net.offset):
            return x
        z = self.variable("z", VECTOR, self.net.n_inputs)
        self.steps.append(Shift(z, self.constant("X_OFFSET", self.net.offset).name))
        return z

    def activate(self, index, layer, slope, curvature):
        """a = f(n), and d = f'(n), c = f''(n) where asked, in one element-wise step."""
        number, form = index + 1, layer.form
        bound = {N: self.net_input[index], A: self.activation[index]}
        assignments = [(self.activation[index], form.value)]
        if slope:
            bound[D] = self.slope[index] = self.variable(f"d{number}", VECTOR, layer.size)
            assignments.append((bound[D], form.slope))
        if curvature:
            self.curvature[index] = self.variable(f"c{number}", VECTOR, layer.size)
            assignments.append((self.curvature[index], form.curvature))
        self.steps.append(_elementwise(tuple(assignments), layer.size, bound, f"t{number}_"))

    def whole_layer(self, index, layer, auxiliaries):
        """a = f(n) of a function of the whole layer, and the per-unit arrays its
        derivatives read where asked, in one Reduction step."""
        form, number = layer.form.whole, index + 1
        bound = {N: self.net_input[index], A: self.activation[index]}
        assignments = [(self.activation[index], form.numeric(form.value))]
        self.auxiliary[index] = {}
        if auxiliaries:
            for symbol, expression in form.auxiliaries:
                operand = self.variable(f"{symbol.name}{number}", VECTOR, layer.size)
                bound[symbol] = self.auxiliary[index][symbol] = operand
                assignments.append((operand, form.numeric(expression)))
        scalars = tuple((symbol, operator, form.numeric(e)) for symbol, operator, e in form.scalars)
        self.steps.append(_reduction(scalars, tuple(assignments), layer.size, bound, f"t{number}_"))

    def whole_layer_bound(self, index):
        """{per-element symbol: Operand} a derivative step of a whole layer may read."""
        return {N: self.net_input[index], A: self.activation[index], **self.auxiliary[index]}

    def gather_values(self):
        out = self.variable("value", VECTOR, self.net.n_outputs)
        blocks = []
        for number, block in enumerate(self.net.outputs, start=1):
            scale = None if np.all(block.scale == 1.0) else self.constant(f"Y{number}_SCALE", block.scale).name
            shift = None if np.all(block.shift == 0.0) else self.constant(f"Y{number}_SHIFT", block.shift).name
            blocks.append((self.activation[block.layer], block.rows, block.units, scale, shift))
        self.steps.append(Gather(out, self.net.n_outputs, tuple(blocks), self.net.constant_rows, False))
        return out

    # --- output maps -----------------------------------------------------------

    def mapped(self, what):
        """(result, shape) of ``what`` of u = E(x, y): y's value, and its Jacobian and Hessian
        as far as ``what`` needs them, then the closing OutputMap step."""
        order = {"value": 0, "gradient": 1, "jacobian": 1, "hessian": 2}[what]
        n_in, n_out = self.net.n_inputs, self.net.n_outputs
        self.forward(slopes=order > 0, curvatures=order > 1)
        value = self.gather_values()
        jacobian = hessian = None
        if order == 1 and self.net.jacobian_mode == "reverse":
            jacobian = self.reverse()
        elif order > 0:   # a Hessian needs the forward tangents anyway
            self.forward_tangents()
            jacobian = self.gather_jacobian()
        if order > 1:
            hessian = self.outer_hessian() if self.outer_form_is_cheaper() else self.reverse(second_order=True)
        source, axes, size = {0: (value, VECTOR, n_out), 1: (jacobian, ADJOINT, n_in),
                              2: (hessian, ADJOINT_TANGENT, n_in)}[order]
        out = self.variable(f"mapped_{source.name}", axes, size)
        entries = _output_map_entries(self.net.output_maps, n_in, order)
        # what no entry reads is left out, so that the arrays only it needs are not computed
        used = set().union(*(expression.free_symbols for _, expression in entries))
        _, y, dy, ddy = map_symbols(n_in)
        value = value if y in used or source is value else None
        jacobian = jacobian if used & set(dy) or source is jacobian else None
        self.steps.append(OutputMap(out, size, source, Operand("x", VECTOR), value, jacobian, hessian, entries,
                                    n_in))
        shape = {"value": (n_out,), "gradient": (n_in,), "jacobian": (n_out, n_in),
                 "hessian": (n_out, n_in, n_in)}[what]
        return out, shape

    # --- derivatives ----------------------------------------------------------

    def scale(self, name, source, index, axes, forward=None):
        """source · ∂a/∂n of layer ``index`` (nothing to do for a linear layer): a tangent
        (``forward``; by default when ``axes`` is TANGENT) or an adjoint (∂a/∂n transposed)."""
        layer = self.net.layers[index]
        if layer.form.identity:
            return source
        out = self.variable(name, axes, layer.size)
        if layer.form.elementwise:
            self.steps.append(Scale(out, layer.size, source, self.slope[index]))
            return out
        form = layer.form.whole
        forward = axes == TANGENT if forward is None else forward
        scalars, expression = (whole_layer.tangent if forward else whole_layer.adjoint)(form)
        bound = {whole_layer.SOURCE: source, **self.whole_layer_bound(index)}
        self.steps.append(_reduction(scalars, ((out, expression),), layer.size, bound, f"t{index + 1}_"))
        return out

    def combine(self, name, constant_name, constant, terms, axes, size):
        """constant + Σ terms as a variable, a constant when there are no terms, or None (zero)."""
        if not terms:
            return None if constant is None else self.constant(constant_name, constant, axes)
        offset = None if constant is None else self.constant(constant_name, constant, axes)
        out = self.variable(name, axes, size)
        self.steps.append(Linear(out, size, offset, tuple(terms)))
        return out

    def forward_tangents(self):
        """dn/dx and da/dx of every varying layer, one row per raw input."""
        for index in self.varying:
            layer = self.net.layers[index]
            constant = None if layer.input_weights is None else layer.input_weights.T
            terms = []
            for source, matrix in layer.layer_weights:
                tangent = self.tangent.get(source)
                if tangent is None:
                    continue
                if tangent.constant:
                    constant = _plus(constant, self.constants[tangent.name] @ matrix.T)
                else:
                    terms.append(Term(self.weights(index, source, matrix), tangent,
                                      self.net.layers[source].size, False))
            number = index + 1
            tn = self.combine(f"tn{number}", f"TN{number}", constant, terms, TANGENT, layer.size)
            self.tangent_net[index] = tn
            self.tangent[index] = self.scale(f"ta{number}", tn, index, TANGENT)

    def gather_jacobian(self):
        out = self.variable("jacobian", ADJOINT, self.net.n_inputs)
        blocks, fill = [], [(row, 0.0) for row, _ in self.net.constant_rows]
        for number, block in enumerate(self.net.outputs, start=1):
            if block.layer not in self.tangent:
                fill += [(row, 0.0) for row in block.rows]
                continue
            scale = None if np.all(block.scale == 1.0) else self.constant(f"Y{number}_SCALE", block.scale).name
            blocks.append((self.tangent[block.layer], block.rows, block.units, scale, None))
        self.steps.append(Gather(out, self.net.n_inputs, tuple(blocks), tuple(sorted(fill)), True))
        return out

    def seeds(self):
        """dy/da of the layers the outputs read: scale at (row, unit)."""
        seeds = {}
        for block in self.net.outputs:
            if block.layer in self.varying:
                seed = seeds.setdefault(block.layer, np.zeros((self.net.n_outputs, self.net.layers[block.layer].size)))
                seed[list(block.rows), list(block.units)] = block.scale
        return seeds

    def reverse(self, second_order=False, jacobian_name="jacobian"):
        """Adjoints dy/dn from the outputs back to the inputs; with ``second_order`` also
        their tangents d/dx (dy/dn), whose products with the input weights are the Hessian.
        ``jacobian_name``: the name of the Jacobian it ends with (see outer_hessian)."""
        pending = {index: [None, []] for index in self.varying}
        for index, seed in self.seeds().items():
            pending[index][0] = seed
        pending_tangent = {index: [] for index in self.varying}
        jacobian, hessian = [None, []], []
        for index in reversed(self.varying):
            layer, number = self.net.layers[index], index + 1
            g = self.combine(f"g{number}", f"G{number}", *pending[index], ADJOINT, layer.size)
            if g is None:
                continue
            self.adjoint[index] = g
            gn = self.scale(f"gn{number}", g, index, ADJOINT)
            for source, matrix in layer.layer_weights:
                if source in pending:
                    self.accumulate(pending[source], gn, index, source, matrix)
            if layer.input_weights is not None:
                self.accumulate(jacobian, gn, index, "x", layer.input_weights)
            if second_order:
                gt = self.combine(f"gt{number}", None, None, pending_tangent[index], ADJOINT_TANGENT, layer.size)
                gnt = self.second_order(index, g, gt)
                if gnt is not None:
                    for source, matrix in layer.layer_weights:
                        if source in pending_tangent:
                            pending_tangent[source].append(
                                Term(self.weights(index, source, matrix), gnt, layer.size, True))
                    if layer.input_weights is not None:
                        hessian.append(Term(self.weights(index, "x", layer.input_weights), gnt, layer.size, True))
        if second_order:
            out = self.variable("hessian", ADJOINT_TANGENT, self.net.n_inputs)
            # symmetric: only the upper triangle is computed, then mirrored
            self.steps += [Linear(out, self.net.n_inputs, None, tuple(hessian), upper=True), Symmetrize(out)]
            return out
        out = self.variable(jacobian_name, ADJOINT, self.net.n_inputs)
        constant = jacobian[0]
        offset = None if constant is None else self.constant("J_CONSTANT", constant, ADJOINT)
        self.steps.append(Linear(out, self.net.n_inputs, offset, tuple(jacobian[1])))
        return out

    def outer_form_is_cheaper(self):
        """True when the Hessian is cheaper as a sum of outer products (outer_hessian) than
        forward-over-reverse: every varying layer is element-wise, and the outer products
        take no more multiply-adds (hessian_costs)."""
        if not all(self.net.layers[index].form.elementwise for index in self.varying):
            return False
        outer, carried = self.hessian_costs()
        return outer <= carried

    def hessian_costs(self):
        """(outer products, forward-over-reverse): the cost per output, in multiply-adds, of
        the work in which the two forms differ (both need the forward tangents and the
        reverse adjoints).  Forward-over-reverse carries the n_in adjoint tangents of every
        unit through the weights of the layers that read it and, for the Hessian, through
        the input weights, of which it computes the upper triangle, (n_in + 1)/2 per input.
        The outer products compute n_in·(n_in + 1)/2 per unit of a nonlinear varying layer,
        counted as n_in²: measured (benchmarks/hessian_sweep_order.py, docs/performance.md),
        their short triangular loops take about the time of the whole square, where the
        other form's products run over whole layers; so counted, the rule picks the faster
        form on every net measured."""
        layers, n_in = self.net.layers, self.net.n_inputs

        def carried(index):
            readers = sum(layers[r].size for r in self.varying if any(s == index for s, _ in layers[r].layer_weights))
            return n_in * readers + (n_in * (n_in + 1) // 2 if layers[index].input_weights is not None else 0)
        outer = sum(layers[i].size * n_in * n_in for i in self.varying if not layers[i].form.linear)
        return outer, sum(layers[i].size * carried(i) for i in self.varying)

    def outer_hessian(self):
        """d²y/dx² = Σ over the units of every varying layer of (dy/da)·f''(n)·(dn/dx)(dn/dx)ᵀ:
        n is linear in x and the earlier activations, so every second derivative comes from
        one f''.  The adjoints dy/da are reverse mode's (its Jacobian, not needed, is
        named apart from the gathered one of an output map, and pruned)."""
        self.reverse(jacobian_name="reverse_jacobian")
        terms = []
        for index in self.varying:
            curvature, adjoint = self.curvature.get(index), self.adjoint.get(index)
            tangent, layer = self.tangent_net.get(index), self.net.layers[index]
            if curvature is None or adjoint is None or tangent is None:
                continue
            weight = self.variable(f"gc{index + 1}", ADJOINT, layer.size)
            self.steps.append(Scale(weight, layer.size, adjoint, curvature))
            terms.append((weight, tangent, layer.size))
        out = self.variable("hessian", ADJOINT_TANGENT, self.net.n_inputs)
        self.steps.append(OuterSum(out, self.net.n_inputs, tuple(terms)))   # writes both triangles
        return out

    def accumulate(self, pending, gn, index, source, matrix):
        """pending (constant part, terms) += gn · matrix, folded when gn is a constant."""
        if gn.constant:
            pending[0] = _plus(pending[0], self.constants[gn.name] @ matrix)
        else:
            pending[1].append(Term(self.weights(index, source, matrix), gn, self.net.layers[index].size, True))

    def second_order(self, index, g, gt, direction=None, name=None, axes=ADJOINT_TANGENT):
        """The tangent of the adjoint g through layer ``index`` (gt: the tangent g already
        has, or None), along ``direction``, the pair (tangent of n, tangent of a) of one
        direction (symnet.layered.directional), by default the Hessian's over every input."""
        layer, number = self.net.layers[index], index + 1
        form = layer.form
        if form.identity:
            return gt
        curvature = self.curvature.get(index)
        if form.elementwise and gt is None and curvature is None:
            return None
        tangent_net, tangent = direction or (self.tangent_net[index], self.tangent.get(index))
        out = self.variable(name or f"gnt{number}", axes, layer.size)
        if form.elementwise:
            slope = None if gt is None else self.slope[index]
            adjoint = None if curvature is None else g   # read only by the curvature term
            self.steps.append(SecondOrder(out, layer.size, gt, adjoint, tangent_net, slope, curvature))
            return out
        scalars, expression = whole_layer.second_order(form.whole, gt is not None)
        bound = {whole_layer.TANGENT_N: tangent_net, whole_layer.TANGENT_A: tangent,
                 whole_layer.ADJOINT: g, **self.whole_layer_bound(index)}
        if gt is not None:
            bound[whole_layer.ADJOINT_TANGENT] = gt
        self.steps.append(_reduction(scalars, ((out, expression),), layer.size, bound, f"t{number}_"))
        return out

def _elementwise(assignments, size, bound, prefix):
    """An Elementwise step with the subexpressions its expressions share computed once,
    each right before its first use."""
    expressions = [sp.sympify(expression) for _, expression in assignments]
    temporaries, reduced = sp.cse(expressions, symbols=sp.numbered_symbols(prefix, real=True), order="none")
    pending, statements = dict(temporaries), []

    def place(expression):
        for symbol in sorted(expression.free_symbols & pending.keys(), key=sp.default_sort_key):
            if symbol in pending:
                value = pending.pop(symbol)
                place(value)
                statements.append((symbol, value))

    for (out, _), expression in zip(assignments, reduced):
        place(expression)
        statements.append((out, expression))
    used = set().union(*(e.free_symbols for _, e in statements))
    arguments = tuple((symbol, operand) for symbol, operand in bound.items() if symbol in used)
    return Elementwise(tuple(statements), size, arguments)


def _reduction(scalars, assignments, size, bound, prefix):
    """A Reduction step: the scalars, then the statements with their shared
    subexpressions computed once (as in ``_elementwise``)."""
    statements = _elementwise(assignments, size, {}, prefix).statements
    used = set().union(*(sp.sympify(e).free_symbols for _, e in statements),
                       *(sp.sympify(e).free_symbols for _, _, e in scalars))
    arguments = tuple((symbol, operand) for symbol, operand in bound.items() if symbol in used)
    return Reduction(tuple(scalars), statements, size, arguments)


def _output_map_entries(maps, n_inputs, order):
    """((targets, expression), ...) of an OutputMap step: for each row with a map E, the
    value E, or J_u = dE/dx + dE/dy·J_y, or the Hessian
    d2E/dx2 + d2E/dxdy·J_y (both ways) + d2E/dy2·J_y J_yᵀ + dE/dy·H_y (upper triangle, mirrored)."""
    xs, y, dy, ddy = map_symbols(n_inputs)
    entries = []
    for row, expression in enumerate(maps):
        if expression is None:
            continue
        if order == 0:
            entries.append((((row,),), expression))
            continue
        e_y = sp.diff(expression, y)
        first = [sp.diff(expression, x) for x in xs]
        if order == 1:
            entries += [(((row, k),), first[k] + e_y * dy[k]) for k in range(n_inputs)]
            continue
        e_yy = sp.diff(e_y, y)
        e_xy = [sp.diff(e_y, x) for x in xs]
        for k in range(n_inputs):
            for m in range(k, n_inputs):
                total = (sp.diff(first[k], xs[m]) + e_xy[k] * dy[m] + e_xy[m] * dy[k]
                         + e_yy * dy[k] * dy[m] + e_y * ddy[(k, m)])
                targets = ((row, k, m),) if k == m else ((row, k, m), (row, m, k))
                entries.append((targets, total))
    return tuple(entries)


def _plus(total, value):
    return value if total is None else total + value
