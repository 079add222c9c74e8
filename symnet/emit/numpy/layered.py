"""The layered form of the ``numpy`` target: weights as module-level arrays,
matrix products over the whole batch (one BLAS call per layer), tangents and
adjoints as arrays with the batch first and the layer's units last."""

import dataclasses

import sympy as sp

from ...ir.derivative_spec import spec_of
from ...layered.fusion import tanh_slope_targets
from ...layered.lifetimes import last_reads as layered_last_reads
from ...layered.network import N
from ...layered.steps import Operand, without_unread_temporaries
from ..common import grouped, render
from ..layered_common import (argument_size, index_run, layered_programs, merged_constants, print_elementwise,
                              print_output_map, print_scalars, reads_units, request_programs)
from ..layered_emitter import LayeredEmitter
from .printer import literal

#: The helper of the generated module computing tanh's slope: tanh' = 4e/(1+e)²,
#: e = exp(-2|n|), is 1/cosh(n)², which NumPy computes with one ufunc and two in-place
#: passes instead of seven array temporaries (the largest cost of a tanh network's
#: Jacobian over a batch).
TANH_SLOPE_HELPER = "_sech_squared"


def _view(operand, axes):
    """``operand`` broadcast to the axes ("b",) + axes + ("u",) of a result."""
    own = (() if operand.constant else ("b",)) + operand.axes + ("u",)
    index = [":" if axis in own else "None" for axis in ("b",) + axes + ("u",)]
    while operand.constant and index and index[0] == "None":
        index.pop(0)
    return operand.name if all(i == ":" for i in index) else f"{operand.name}[{', '.join(index)}]"


def _shape(program, operand):
    return "(count, " + ", ".join(str(n) for n in dict(program.arrays)[operand]) + ")"


def _product(term, program, out, size):
    weights = term.weights if term.transpose else f"{term.weights}.T"
    if not term.source.axes:
        return f"{term.source.name} @ {weights}"
    return f"({term.source.name}.reshape(-1, {term.source_size}) @ {weights}).reshape{_shape(program, out)}"


def _index(indices):
    run = index_run(indices)
    return f"{run[0]}:{run[1]}" if run else "[" + ", ".join(str(i) for i in indices) + "]"


class NumPyLayeredEmitter(LayeredEmitter):
    """NumPy statements (target, operator, expression) for the steps of a LayeredProgram."""

    language = "numpy"

    def __init__(self, program, printer):
        self.program, self.printer = program, printer

    def shape(self, operand):
        """The per-point shape of the array ``operand``."""
        return next(tuple(shape) for array, shape in self.program.arrays if array.name == operand.name)

    def statements(self):
        lines = [("x", "=", "X.reshape(-1, N_INPUTS)"), ("count", "=", "x.shape[0]")]
        last_reads = layered_last_reads(self.program)
        for index, step in enumerate(self.program.steps):
            self.temporaries = []
            lines += self.emit_step(step)
            dead = self.temporaries + last_reads.get(index, [])
            if dead:
                # Each array is freed right after its last use, so that the next one reuses
                # its memory: fresh pages for every array of a large batch cost more than
                # the arithmetic (measured 1.4x the time per batch without these).
                lines.append(("del", "", ", ".join(dead)))
        return lines

    def shift(self, step):
        return [(step.out.name, "=", f"x - {step.offset}")]

    def linear(self, step):
        parts = [_product(t, self.program, step.out, step.size) for t in step.terms]
        if step.offset is not None:
            parts.append(_view(step.offset, step.out.axes))
        shape = _shape(self.program, step.out)
        if not step.terms:
            value = f"numpy.zeros({shape})" if step.offset is None else f"numpy.broadcast_to({parts[0]}, {shape}).copy()"
            return [(step.out.name, "=", value)]
        first = step.terms[0].source
        if first.constant or first.axes != step.out.axes:
            return [(step.out.name, "=", " + ".join(parts))]
        # The first product is a new array of the result's shape: adding the rest in
        # place saves an array temporary per term (each costs as much as the addition).
        return [(step.out.name, "=", parts[0])] + [(step.out.name, "+=", part) for part in parts[1:]]

    def elementwise(self, step):
        step, lines = _helper_calls(step)
        if step is None:
            return lines
        for (target, text), (_, expression) in zip(print_elementwise(step, self.printer, lambda o: o.name),
                                                   step.statements):
            if isinstance(target, str):
                self.temporaries.append(target)
                lines.append((target, "=", text))
            elif not sp.sympify(expression).free_symbols:
                lines.append((target.name, "=", f"numpy.full((count, {step.size}), {text})"))
            else:
                lines.append((target.name, "=", text))
        return lines

    def reduction(self, step):
        """The scalars as arrays with a unit axis of one (sums and maxima keep it), then
        the statements over whole arrays, every operand broadcast to the outputs' axes."""
        axes, lines = step.out.axes, []
        shape = _shape(self.program, step.out)
        for name, operator, text in print_scalars(step, self.printer, lambda o: _view(o, axes)):
            self.temporaries.append(name)
            if operator != "once":
                text = f"numpy.{operator}({text}, axis=-1, keepdims=True)"
            lines.append((name, "=", text))
        printed = print_elementwise(step, self.printer, lambda o: _view(o, axes))
        for (target, text), (_, expression) in zip(printed, step.statements):
            if isinstance(target, str):
                self.temporaries.append(target)
                lines.append((target, "=", text))
            elif not reads_units(step, expression):   # one value per point, in every unit
                lines.append((target.name, "=", f"numpy.broadcast_to({text}, {shape})"))
            else:
                lines.append((target.name, "=", text))
        return lines

    def scale(self, step):
        return [(step.out.name, "=", f"{_view(step.source, step.out.axes)} * {_view(step.slope, step.out.axes)}")]

    def outersum(self, step):
        """Σ (weight·tangent) @ tangentᵀ over the terms: one batched matrix product each,
        then the upper triangle mirrored (the product's rounding differs between (k, m)
        and (m, k))."""
        axes = step.out.axes
        parts = []
        for weight, tangent, _ in step.terms:
            t = _view(tangent, axes)
            parts.append(f"({_view(weight, axes)} * {t}) @ numpy.swapaxes({t}, -1, -2)")
        if not parts:
            return [(step.out.name, "=", f"numpy.zeros({_shape(self.program, step.out)})")]
        lines = [(step.out.name, "=", parts[0])] + [(step.out.name, "+=", part) for part in parts[1:]]
        return lines + self.symmetrize(step)

    def secondorder(self, step):
        axes = step.out.axes
        parts = [] if step.adjoint_tangent is None else [f"{step.adjoint_tangent.name} * {_view(step.slope, axes)}"]
        if step.curvature is not None:
            product = f"({step.tangent.name} * {_view(step.curvature, step.tangent.axes)})"
            parts.append(f"{_view(step.adjoint, axes)} * {_view(Operand(product, step.tangent.axes), axes)}")
        return [(step.out.name, "=", " + ".join(parts))]

    def gather(self, step):
        out = step.out.name
        lines = [(out, "=", f"numpy.{'zeros' if step.fill else 'empty'}({_shape(self.program, step.out)})")]
        for source, rows, units, scale, shift in step.blocks:
            if step.transposed:
                picked = f"{source.name}[..., {_index(units)}]"
                value = f"numpy.swapaxes({picked}, -1, -2)"
                value += "" if scale is None else f" * {scale}[:, None]"
                lines.append((f"{out}[:, {_index(rows)}, :]", "=", value))
            else:
                value = f"{source.name}[:, {_index(units)}]"
                value += ("" if scale is None else f" * {scale}") + ("" if shift is None else f" + {shift}")
                lines.append((f"{out}[:, {_index(rows)}]", "=", value))
        if not step.transposed:
            lines += [(f"{out}[:, {row}]", "=", literal(value)) for row, value in step.fill]
        return lines

    def symmetrize(self, step):
        # upper triangle plus the strict upper one transposed: every entry is one of the
        # upper triangle's, exactly (x + 0)
        name = step.out.name
        return [(name, "=", f"numpy.triu({name}) + numpy.swapaxes(numpy.triu({name}, 1), -1, -2)")]

    def outputmap(self, step):
        def element(operand, index):
            return f"{operand.name}[:, {', '.join(str(i) for i in index)}]"
        out = step.out.name
        lines = [(out, "=", f"{step.source.name}.copy()" if step.source is not None
                  else f"numpy.empty((count,) + {self.shape(step.out)!r})")]
        for targets, text in print_output_map(step, self.printer, element):
            lines += [(element(step.out, target), "=", text) for target in targets]
        return lines


def _helper_calls(step):
    """(the step without the outputs a helper computes, lines calling the helpers); the
    step is None when nothing is left of it.  Which outputs are tanh's slope of the net
    input is the shared pass symnet.layered.fusion's answer."""
    helped = tanh_slope_targets(step, N)
    calls = [(target, "=", f"{TANH_SLOPE_HELPER}({operand.name})") for target, operand in helped.items()]
    if not calls:
        return step, []
    kept = [(t, e) for t, e in step.statements if t not in helped]
    kept = without_unread_temporaries(kept)
    if not any(isinstance(target, Operand) for target, _ in kept):
        return None, [(target.name, operator, text) for target, operator, text in calls]
    used = set().union(*(sp.sympify(e).free_symbols for _, e in kept))
    arguments = tuple((symbol, operand) for symbol, operand in step.arguments if symbol in used)
    remaining = dataclasses.replace(step, statements=tuple(kept), arguments=arguments)
    return remaining, [(target.name, operator, text) for target, operator, text in calls]



def _helpers_used(functions):
    return sorted({TANH_SLOPE_HELPER for function in functions for _, _, text in function["statements"]
                   if text.startswith(TANH_SLOPE_HELPER + "(")})


def _array_literal(value):
    """numpy.array([...]) with exact round-trip doubles, wrapped."""
    def row_text(row, indent):
        chunks = grouped([literal(v) for v in row])
        if len(chunks) <= 1:
            return "[" + "".join(chunks) + "]"
        pad = " " * (indent + 4)
        return "[\n" + "".join(f"{pad}{chunk},\n" for chunk in chunks) + " " * indent + "]"
    if value.ndim == 1:
        return f"numpy.array({row_text(value, 0)})"
    rows = "".join(f"    {row_text(row, 4)},\n" for row in value)
    return f"numpy.array([\n{rows}])"


def render_layered(request, printer, docs, function_names):
    """{file name: text} of the layered NumPy module for ``request``."""
    text, _ = layered_module_text(request.network, request.derivatives, printer, docs, function_names,
                                  header=request.header, programs=request_programs(request))
    return {f"{request.name}_numpy.py": text}


def layered_module_text(net, derivatives, printer, docs, function_names, header=(), literal_constants=True,
                        programs=None):
    """(text of the layered NumPy module, {constant name: array}).  With ``literal_constants``
    False the text leaves out the weight arrays' literals (the caller binds the arrays
    themselves): printing and parsing 17-digit literals is most of the cost of a large net.
    ``programs``: the layered programs where the caller has them already."""
    programs = programs or layered_programs(net, derivatives)
    functions = []
    for what, program in programs:
        functions.append({
            "name": function_names[what],
            "doc": docs[what],
            "statements": NumPyLayeredEmitter(program, printer).statements(),
            "result": program.result.name,
            "shape": tuple(program.shape),
            "arguments": [{"name": name, "parameter": name.upper(), "size": argument_size(size)}
                          for name, size in spec_of(what).extra_arguments],
        })
    constants = merged_constants(programs)
    literals = [(name, _array_literal(value)) for name, value in constants] if literal_constants else []
    text = render("numpy/layered.py.j2", header=header, functions=functions, constants=literals,
                  n_inputs=net.n_inputs, n_outputs=net.n_outputs, helpers=_helpers_used(functions),
                  imports_math="math" in printer.module_imports)
    return text, dict(constants)
