"""The layered form of the ``matlab`` target: weights as matrices held in
persistent variables (filled once per session from a local function), and
every step of a LayeredProgram as whole-array MATLAB/Octave statements over
all columns of X.

Array layout: the unit is the first index, the column of X (the point) the
second, then the directions of a derivative: a tangent t(u, q, input), an
adjoint g(u, q, output), the tangent of an adjoint (u, q, output, input).
A matrix product W·a then is one 2-D product with the points and directions
as columns, ``reshape(W * reshape(t, size, []), ...)``, and the slope f'(n)
stored by the forward pass (u, q) multiplies every direction by implicit
expansion.  Constants that carry directions (a tangent that is a weight
matrix, the adjoint of a linear output layer) are stored as (u, 1, ...).
"""

import textwrap

import numpy as np
import sympy as sp

from ...layered.steps import Gather, Operand, output_map_elements, reads
from ...unrolled.program import Assignment, Program
from ..common import grouped
from ..layered_common import index_run, reads_units
from ..layered_emitter import LayeredEmitter
from ..program_tools import hoist_piecewise
from .printer import literal

#: Order of the direction axes after (unit, point).
AXES = ("out", "in")


def _index(indices):
    """A MATLAB (1-based) index of 0-based ``indices``: a range where they are consecutive."""
    run = index_run(indices)
    if run:
        return str(run[0] + 1) if run[1] - run[0] == 1 else f"{run[0] + 1}:{run[1]}"
    return "[" + ", ".join(str(i + 1) for i in indices) + "]"


def matrix_literal(matrix):
    """``[...]`` of a 2-D array with exact round-trip doubles: one matrix row per group
    of lines (continued with ``...``), each ended by ``;``."""
    lines = []
    for row in np.atleast_2d(matrix):
        numbers = [literal(v) for v in row]
        chunks = grouped(numbers)
        lines += [f"    {chunk}, ..." for chunk in chunks[:-1]] + [f"    {chunks[-1]};"]
    return "[\n" + "\n".join(lines) + "\n]"


def vector_literal(vector):
    """``[a; b; ...]``: a column vector, wrapped."""
    numbers = [literal(v) for v in vector]
    lines = grouped(numbers, "; ")
    if len(lines) == 1:
        return f"[{lines[0]}]"
    return "[\n" + "\n".join(f"    {line};" for line in lines) + "\n]"


def constant_literal(value, directions):
    """The MATLAB value of a program constant: a weight matrix as it is, a vector as a
    column, a constant with ``directions`` (its per-point axes) as (u, 1, extents...)."""
    value = np.asarray(value, dtype=float)
    if not directions:
        return vector_literal(value) if value.ndim == 1 else matrix_literal(value)
    units = value.shape[-1]
    columns = np.moveaxis(value, -1, 0).reshape(units, -1, order="F")
    dims = ", ".join(str(n) for n in (units, 1) + value.shape[:-1])
    return f"reshape({matrix_literal(columns)}, [{dims}])"


#: The MATLAB names of a function's arguments: the inputs X and the extra arguments V, W.
ARGUMENT_NAMES = {"x": "X", "v": "V", "w": "W"}


class MatlabLayeredEmitter(LayeredEmitter):
    """MATLAB statements (template data) for the steps of one LayeredProgram."""

    language = "matlab"

    def __init__(self, program, printer):
        self.program, self.printer = program, printer
        self.shapes = {operand.name: shape for operand, shape in program.arrays}
        self.shapes.update((name, np.shape(value)) for name, value in program.constants)

    def statements(self):
        lines = []
        for step in self.program.steps:
            lines += self.emit_step(step)
        return lines

    # --- names and shapes -------------------------------------------------------

    @staticmethod
    def name(operand):
        return ARGUMENT_NAMES.get(operand.name, operand.name)

    def extent(self, operand, axis):
        return self.shapes[operand.name][operand.axes.index(axis)]

    def view(self, operand, axes, text=None, constant=None):
        """``operand`` (or ``text`` with its axes) laid out for an array with direction ``axes``:
        itself where its directions lead, else reshaped with a singleton for each missing one."""
        text = self.name(operand) if text is None else text
        constant = operand.constant if constant is None else constant
        present = [axis for axis in axes if axis in operand.axes]
        if tuple(present) == tuple(axes[:len(present)]):
            return text
        units = self.shapes[operand.name][-1]
        dims = [str(units), "1" if constant else "Q"]
        dims += [str(self.extent(operand, axis)) if axis in operand.axes else "1" for axis in axes]
        return f"reshape({text}, [{', '.join(dims)}])"

    def full_shape(self, operand):
        per_point = self.shapes[operand.name]
        return ", ".join([str(per_point[-1]), "Q"] + [str(n) for n in per_point[:-1]])

    @staticmethod
    def plain(target, expression):
        return {"kind": "plain", "target": target, "expr": expression}

    # --- steps ------------------------------------------------------------------

    def shift(self, step):
        return [self.plain(step.out.name, f"X - {step.offset}")]

    def product(self, term, out):
        weights = f"{term.weights}'" if term.transpose else term.weights
        source = self.name(term.source)
        if not term.source.axes:
            return f"{weights} * {source}"
        return f"reshape({weights} * reshape({source}, {term.source_size}, []), [{self.full_shape(out)}])"

    def linear(self, step):
        parts = [self.product(term, step.out) for term in step.terms]
        if step.offset is not None:
            parts.append(self.view(step.offset, step.out.axes))
        if not step.terms:
            value = f"zeros({self.full_shape(step.out)})" if step.offset is None else f"repmat({parts[0]}, [1, Q])"
            return [self.plain(step.out.name, value)]
        return [self.plain(step.out.name, " + ".join(parts))]

    def elementwise(self, step):
        """Each statement element-wise over (u, q); a kink as masked assignments."""
        replacements = {symbol: sp.Symbol(operand.name, real=True) for symbol, operand in step.arguments}
        assignments = []
        for target, expression in step.statements:
            symbol = sp.Symbol(target.name, real=True) if isinstance(target, Operand) else target
            assignments.append(Assignment(symbol, sp.sympify(expression).xreplace(replacements)))
        hoisted = hoist_piecewise(Program((), tuple(assignments), ()))
        return [self.assignment(a.target, a.expr, step.size) for a in hoisted.assignments]

    def assignment(self, target, expression, size):
        from .unrolled import statement_data   # here: unrolled imports this module
        data = statement_data(target, expression, self.printer, rows=size)
        if data["kind"] == "plain" and not expression.free_symbols:
            data["expr"] = f"repmat({data['expr']}, {size}, Q)"
        return data

    def reduction(self, step):
        """The scalars over the unit (first) index, kept as a singleton dimension, then the
        statements element-wise over whole arrays, every operand laid out for the outputs."""
        axes = step.out.axes
        replacements = {symbol: sp.Symbol(self.view(operand, axes), real=True) for symbol, operand in step.arguments}
        lines = []
        for symbol, operator, expression in step.scalars:
            text = self.printer.doprint(sp.sympify(expression).xreplace(replacements))
            text = {"sum": f"sum({text}, 1)", "max": f"max({text}, [], 1)", "once": text}[operator]
            lines.append(self.plain(self.printer.doprint(symbol), text))
        for target, expression in step.statements:
            symbol = sp.Symbol(target.name, real=True) if isinstance(target, Operand) else target
            data = self.assignment(symbol, sp.sympify(expression).xreplace(replacements), step.size)
            if isinstance(target, Operand) and not reads_units(step, expression):
                data["expr"] = f"repmat({data['expr']}, [{step.size}, 1])"   # one value per point
            lines.append(data)
        return lines

    def scale(self, step):
        axes = step.out.axes
        return [self.plain(step.out.name, f"{self.view(step.source, axes)} .* {self.view(step.slope, axes)}")]

    def secondorder(self, step):
        axes = step.out.axes
        parts = [] if step.adjoint_tangent is None else [
            f"{self.view(step.adjoint_tangent, axes)} .* {self.view(step.slope, axes)}"]
        if step.curvature is not None:
            product = f"({self.name(step.tangent)} .* {self.name(step.curvature)})"
            parts.append(f"{self.view(step.adjoint, axes)} .* {self.view(step.tangent, axes, product, constant=False)}")
        return [self.plain(step.out.name, " + ".join(parts))]

    def outersum(self, step):
        """hessian(m, q, o, k) = Σ_terms Σ_u w(u, q, o)·t(u, q, k)·t(u, q, m): per term the
        products w·t_k (u, q, o, k), then one sum over the units per input m."""
        out, axes = step.out.name, step.out.axes
        lines = [self.plain(out, f"zeros({self.full_shape(step.out)})")]
        for weight, tangent, _ in step.terms:
            lines.append(self.plain("outer", f"{self.view(weight, axes)} .* {self.view(tangent, axes)}"))
            lines.append({"kind": "loop", "variable": "m", "count": step.size, "target": f"{out}(m, :, :, :)",
                          "expr": f"{out}(m, :, :, :) + sum(outer .* {self.name(tangent)}(:, :, m), 1)"})
        return lines + self.symmetrize(step)   # (k, m) and (m, k) round differently: one of them for both

    def gather(self, step):
        out = step.out.name
        lines = [self.plain(out, f"zeros({self.full_shape(step.out)})")]
        for source, rows, units, scale, shift in step.blocks:
            if step.transposed:
                # out(input, q, row) = source(unit, q, input)·scale
                value = f"permute({self.name(source)}({_index(units)}, :, :), [3, 2, 1])"
                value += "" if scale is None else f" .* reshape({scale}, 1, 1, [])"
                value = f"repmat({value}, [1, Q])" if source.constant else value
                lines.append(self.plain(f"{out}(:, :, {_index(rows)})", value))
            else:
                value = f"{self.name(source)}({_index(units)}, :)"
                value += ("" if scale is None else f" .* {scale}") + ("" if shift is None else f" + {shift}")
                lines.append(self.plain(f"{out}({_index(rows)}, :)", value))
        if not step.transposed:
            lines += [self.plain(f"{out}({row + 1}, :)", literal(value)) for row, value in step.fill]
        return lines

    def symmetrize(self, step):
        """The upper triangle mirrored: the two input axes are the unit (1st, m) and the last
        (4th, k) index; the entries with m < k take their mirror image's value."""
        name, n_out, n_in = step.out.name, *self.shapes[step.out.name][:2]
        below = f"repmat(reshape(triu(true({n_in}), 1), {n_in}, 1, 1, {n_in}), [1, Q, {n_out}, 1])"
        return [self.plain("mirrored", f"permute({name}, [4, 2, 3, 1])"), self.plain("below", below),
                self.plain(f"{name}(below)", "mirrored(below)")]

    def outputmap(self, step):
        """The result is y's, then each mapped row's entries, element-wise over the points."""
        def element(operand, index):
            row, *inputs = [i + 1 for i in index]
            if operand.name == "x":
                return f"X({row}, :)"
            if not inputs:
                return f"{self.name(operand)}({row}, :)"
            # (unit, q, out, in): the unit is the last input index
            place = [inputs[-1], ":", row] + inputs[:-1]
            return f"{self.name(operand)}({', '.join(str(i) for i in place)})"
        lines = [self.plain(step.out.name, self.name(step.source))] if step.source is not None else []
        for targets, expression in step.entries:
            elements = output_map_elements(step, targets[0][0])
            expression = expression.xreplace({symbol: sp.Symbol(element(*place), real=True)
                                              for symbol, place in elements.items()})
            text = self.printer.doprint(expression) if not expression.has(sp.Piecewise) else "mapped"
            if expression.has(sp.Piecewise):
                # a choice is a masked assignment into a whole variable, then stored
                mapped = sp.Symbol("mapped", real=True)
                hoisted = hoist_piecewise(Program((), (Assignment(mapped, expression),), ()))
                lines += [self.assignment(a.target, a.expr, 1) for a in hoisted.assignments]
            lines += [self.plain(element(step.out, target), text) for target in targets]
        return lines


def result_statement(what, program, output):
    """``output`` in the public layout (LAYOUTS) from the result array (u, q, directions)."""
    result = program.result
    if result.axes and what != "gradient":
        order = [3 + k for k in range(len(result.axes))] + [1, 2]
        permuted = f"permute({result.name}, [{', '.join(map(str, order))}])"
        if len(program.shape) == len(result.axes):   # one unit per row (the Laplacian): rows by Q
            return f"{output} = reshape({permuted}, [{', '.join(map(str, program.shape))}, Q]);"
        return f"{output} = {permuted};"
    return f"{output} = {result.name};"


def constants_data(program):
    """((name, literal), ...) of the constants one function reads, in order of first use."""
    directions = {operand.name for step in program.steps for operand in reads(step)
                  if operand.constant and operand.axes}
    return tuple((name, constant_literal(value, name in directions)) for name, value in program.constants)


def wrapped(names, width=72, indent="    "):
    """``names`` joined by ", " over lines of at most ``width`` characters, continued with ``...``."""
    lines, line = [], ""
    for name in names:
        candidate = f"{line}, {name}" if line else name
        if line and len(candidate) > width:
            lines.append(line + ", ...")
            line = indent + name
        else:
            line = candidate
    return "\n".join(lines + [line])


FORM = {
    "all": "Layered form: the weights are the matrices of the local function constants "
           "(read once into persistent variables), the normalization folded into them: "
           "z = X - X_OFFSET, then per layer n = B + W*z + the sum of W*a over the layers "
           "it reads (W*_x reads the inputs), a = f(n), as matrix products over all columns "
           "of X; the outputs are a (times Y*_SCALE plus Y*_SHIFT where those exist). "
           "Needs implicit expansion (MATLAB R2016b or later, GNU Octave).",
    "known": "TN*, G* and J_CONSTANT are tangents, adjoints and Jacobian terms known when the "
             "code was generated.",
    "forward": "The Jacobian is accumulated layer by layer forward, through the slopes f'(n) "
               "stored by the forward pass: tangents t(unit, column, input) = dn/dx, one per input.",
    "reverse": "The Jacobian is accumulated layer by layer in reverse, from the outputs back "
               "through the slopes f'(n) stored by the forward pass: adjoints "
               "g(unit, column, output) = dy/dn, one per output.",
    "hessian": "The Hessian is forward over reverse: the forward tangents, then the reverse "
               "sweep together with its own tangent gt(unit, column, output, input) through the "
               "curvatures f''(n); the upper triangle mirrored, exactly symmetric.",
}


def form_lines(what, program):
    """The header paragraph describing the layered form of this function."""
    parts = [FORM["all"]]
    if what in ("gradient", "jacobian"):
        forward = any(isinstance(step, Gather) and step.transposed for step in program.steps)
        parts.append(FORM["forward" if forward else "reverse"])
    elif what == "hessian":
        parts.append(FORM["hessian"])
    if what != "value":
        parts.append(FORM["known"])
    return tuple(textwrap.wrap(" ".join(parts), 72))


def layered_function_data(what, program, printer, header):
    """Template data of one layered function file (``header``: unrolled.function_header)."""
    constants = constants_data(program)
    names = [name for name, _ in constants]
    return {
        **header,
        "statements": tuple(MatlabLayeredEmitter(program, printer).statements()),
        "result": result_statement(what, program, header["output"]),
        "constants": constants,
        "constant_names": wrapped(names),
        "persistent": tuple(" ".join(names[i:i + 8]) for i in range(0, len(names), 8)),
        "body": "matlab/layered_body.m.j2",
        "form": form_lines(what, program),
        "trailer": "matlab/layered_constants.m.j2" if constants else None,
    }
