"""The layered form of the ``javascript`` backend: weights as module-level nested
arrays, one statement per step of a LayeredProgram, one point per call.

Every array is nested with the unit innermost, ``name[o][m][u]`` over the axes "out"
(loop variable ``o``) and "in" (``m``) it has.  A matrix product is a dot product per
output unit with a row of W (forward) or of its transpose ``W*_T`` (reverse).
"""

import numpy as np

from ...layered.steps import constant_names
from ..layered_common import print_elementwise, print_output_map, print_scalars, request_programs
from ..layered_emitter import LayeredEmitter
from .printer import literal

#: Loop variable of each axis: output row, input column (tangent direction).
AXIS_VARIABLES = {"out": "o", "in": "m"}


def _row(operand):
    """The array of ``operand``'s units at the loop variables of its axes."""
    return operand.name + "".join(f"[{AXIS_VARIABLES[axis]}]" for axis in operand.axes)


class JavaScriptLayeredEmitter(LayeredEmitter):
    """JavaScript statements computing the steps of one LayeredProgram; the weights the
    products read are collected in ``weights``, the transposes in ``transposes``."""

    language = "javascript"

    def __init__(self, program, printer, weights, transposes):
        self.program, self.printer = program, printer
        self.weights, self.transposes = weights, transposes
        self.shapes = {operand.name: shape for operand, shape in program.arrays}
        self.constants = dict(program.constants)
        self.declared = {"x"}
        self.lines = []

    def statements(self):
        self.lines = ["x = Array.from(x, Number);"]
        for step in self.program.steps:
            self.emit_step(step)
        return tuple(self.lines)

    def assign(self, name, value):
        keyword = "" if name in self.declared else "let "
        self.declared.add(name)
        self.lines.append(f"{keyword}{name} = {value};")

    def rows(self, out, row, body=()):
        """out = ``row`` (an array of one unit row, after the statements ``body``) for every
        index of out's other axes."""
        text = f"{{ {' '.join(body)} return {row}; }}" if body else row
        lead = [(AXIS_VARIABLES[axis], n) for axis, n in zip(out.axes, self.shapes[out.name][:-1])]
        if not lead:
            self.assign(out.name, f"(() => {text})()" if body else row)
            return
        for depth, (variable, extent) in enumerate(reversed(lead)):
            text = f"Array.from({{length: {extent}}}, (_, {variable}) => {text})"
        self.assign(out.name, text)

    def units(self, size, value):
        return f"Array.from({{length: {size}}}, (_, j) => {value})"

    def matrix(self, term):
        self.weights.setdefault(term.weights, self.constants[term.weights])
        if not term.transpose:
            return term.weights
        self.transposes.setdefault(f"{term.weights}_T", term.weights)
        return f"{term.weights}_T"

    # --- one method per step kind ----------------------------------------------

    def shift(self, step):
        self.assign(step.out.name, f"x.map((v, k) => v - {step.offset}[k])")

    def linear(self, step):
        parts = [f"dot({self.matrix(term)}[j], {_row(term.source)})" for term in step.terms]
        if step.offset is not None:
            parts = [f"{_row(step.offset)}[j]"] + parts
        self.rows(step.out, self.units(step.size, " + ".join(parts) if parts else "0.0"))

    def elementwise(self, step):
        printed = print_elementwise(step, self.printer, lambda operand: f"{operand.name}[j]")
        for operand, _ in step.assignments:
            self.assign(operand.name, f"new Array({step.size})")
        body = []
        for target, text in printed:
            body.append(f"const {target} = {text};" if isinstance(target, str) else f"{target.name}[j] = {text};")
        self.lines.append(f"for (let j = 0; j < {step.size}; j++) {{ {' '.join(body)} }}")

    def reduction(self, step):
        """Per row of the outputs' leading axes, in a block of its own: each scalar a sum
        (or max) over the units j, then the statements for every unit j."""
        def element(operand):
            return f"{_row(operand)}[j]"
        body = []
        for name, operator, text in print_scalars(step, self.printer, element):
            values = self.units(step.size, text)
            body.append(f"const {name} = " + {"sum": f"{values}.reduce((s, v) => s + v, 0.0);",
                                              "max": f"Math.max(...{values});", "once": f"{text};"}[operator])
        out = step.out
        row = f"{out.name}_row" if out.axes else out.name   # leading axes: a fresh row per index
        statements = [f"const {target} = {text};" if isinstance(target, str) else
                      f"{row if target == out else target.name}[j] = {text};"
                      for target, text in print_elementwise(step, self.printer, element)]
        loop = f"for (let j = 0; j < {step.size}; j++) {{ {' '.join(statements)} }}"
        if out.axes:
            self.rows(out, row, body + [f"const {row} = new Array({step.size});", loop])
            return
        for operand, _ in step.assignments:
            self.assign(operand.name, f"new Array({step.size})")
        self.lines.append(f"{{ {' '.join(body)} {loop} }}")

    def scale(self, step):
        self.rows(step.out, f"{_row(step.source)}.map((s, j) => s * {_row(step.slope)}[j])")

    def secondorder(self, step):
        parts = []
        if step.adjoint_tangent is not None:
            parts.append(f"{_row(step.adjoint_tangent)}[j] * {_row(step.slope)}[j]")
        if step.curvature is not None:
            parts.append(f"{_row(step.adjoint)}[j] * {_row(step.curvature)}[j] * {_row(step.tangent)}[j]")
        self.rows(step.out, self.units(step.size, " + ".join(parts)))

    def gather(self, step):
        entries = {row: (f"new Array({step.size}).fill({literal(value)})" if step.transposed else literal(value))
                   for row, value in step.fill}
        for source, rows, units, scale, shift in step.blocks:
            scales, shifts = self.constants.get(scale), self.constants.get(shift)
            for i, (row, unit) in enumerate(zip(rows, units)):
                text = f"t[{unit}]" if step.transposed else f"{_row(source)}[{unit}]"
                text += "" if scales is None else f" * {literal(scales[i])}"
                text += "" if shifts is None else f" + {literal(shifts[i])}"
                entries[row] = f"{source.name}.map((t) => {text})" if step.transposed else text
        self.assign(step.out.name, "[" + ", ".join(entries[row] for row in sorted(entries)) + "]")

    def outersum(self, step):
        """Row (o, m) of the Hessian: s = weight[o]∘tangent[m] per term, then Σ_terms s·tangent[j] for every j."""
        body = [f"const s{i} = {weight.name}[o].map((w, u) => w * {tangent.name}[m][u]);"
                for i, (weight, tangent, _) in enumerate(step.terms)]
        sums = " + ".join(f"dot(s{i}, {tangent.name}[j])" for i, (_, tangent, _) in enumerate(step.terms))
        self.rows(step.out, self.units(step.size, sums or "0.0"), body)
        self.symmetrize(step)   # (m, j) and (j, m) round differently: one of them for both

    def symmetrize(self, step):
        name = step.out.name
        self.assign(name, f"{name}.map((h) => h.map((row, k) => row.map((u, m) => m >= k ? u : h[m][k])))")

    def outputmap(self, step):
        def element(operand, index):
            return operand.name + "".join(f"[{i}]" for i in index)
        self.assign(step.out.name, f"structuredClone({step.source.name})")
        for targets, text in print_output_map(step, self.printer, element):
            for target in targets:
                self.lines.append(f"{element(step.out, target)} = {text};")


def _array_literal(value):
    if value.ndim == 0:
        return literal(value)
    return "[" + ", ".join(_array_literal(item) for item in value) + "]"


def _returned(program):
    """The result, without leading axes of one entry (the gradient)."""
    extra = len(program.result.axes) + 1 - len(program.shape)
    return program.result.name + "[0]" * extra


def layered_data(request, printer, function_names):
    """Template data of the layered module: its functions, constants and transposes."""
    weights, transposes, constants, functions = {}, {}, {}, []
    for what, program in request_programs(request):
        lines = JavaScriptLayeredEmitter(program, printer, weights, transposes).statements()
        values = dict(program.constants)
        for name in constant_names(program.steps):
            constants.setdefault(name, values[name])
        functions.append({"name": function_names[what], "lines": lines, "result": _returned(program),
                          "shape": program.shape})
    for name, value in weights.items():
        constants.setdefault(name, value)
    return {"functions": functions,
            "constants": [(name, _array_literal(np.asarray(value, dtype=float))) for name, value in constants.items()],
            "transposes": tuple(transposes.items())}
