"""The compact index form of a network for the ``latex`` target: equations for
the normalization, the layers and their derivatives, written from the IR's
layer structure (one equation per step or layer, not per unit), and tables
of the constants they name.

Every equation is LaTeX math text; formulas of transfer functions are
printed by sympy's LaTeX printer.  Indices are 1-based, as in a paper, and
∂_k v stands for ∂v/∂x_k, ∂_km v for ∂²v/∂x_k∂x_m.
"""

from dataclasses import dataclass
from string import Template

import numpy as np
import sympy as sp

from ...errors import UnsupportedError
from ...ir.output_map import Y, all_row_maps, raw_input_symbols
from ...ir.transfer import lookup

#: Matrix columns per table chunk (17-digit numbers must fit the page width).
TABLE_COLUMNS = 4


@dataclass(frozen=True)
class StepForm:
    """How a processing step is written, forward (inputs) and undone (outputs).
    Templates use ${u} (result), ${v} (argument), ${T} (the step's tag), ${c} and ${nc}
    (constant term and its negation), ${D} (the derivative operator)."""

    apply: str
    apply_slope: str
    reverse: str
    reverse_slope: str
    fields: tuple   # (IR field, LaTeX letter), in table order


_SCALING = StepForm(r"${u}_i = g^{${T}}_i\,(${v}_i - o^{${T}}_i)${c}", r"${D} ${u}_i = g^{${T}}_i\, ${D} ${v}_i",
                    r"${u}_i = (${v}_i${nc}) / g^{${T}}_i + o^{${T}}_i", r"${D} ${u}_i = ${D} ${v}_i / g^{${T}}_i",
                    (("xoffset", "o"), ("gain", "g")))

STEP_FORMS = {
    "mapminmax": _SCALING,
    "mapstd": _SCALING,
    "affine": StepForm(r"${u}_i = \kappa^{${T}}_i ${v}_i + \tau^{${T}}_i",
                       r"${D} ${u}_i = \kappa^{${T}}_i\, ${D} ${v}_i",
                       r"${u}_i = (${v}_i - \tau^{${T}}_i) / \kappa^{${T}}_i",
                       r"${D} ${u}_i = ${D} ${v}_i / \kappa^{${T}}_i",
                       (("scale", r"\kappa"), ("shift", r"\tau"))),
    "removeconstantrows": StepForm(
        r"${u}_i = ${v}_{r^{${T}}_i}", r"${D} ${u}_i = ${D} ${v}_{r^{${T}}_i}",
        r"${u}_{r^{${T}}_i} = ${v}_i,\quad ${u}_q = e^{${T}}_q \text{ for each removed row } q",
        r"${D} ${u}_{r^{${T}}_i} = ${D} ${v}_i,\quad ${D} ${u}_q = 0", ()),
}

#: The constant term of a scaling step (MATLAB's ymin / ymean) and its letter.
CONSTANT_FIELDS = {"mapminmax": "ymin", "mapstd": "ymean"}

#: Index forms of the transfer functions that act on a whole layer (${l}: layer number).
VECTOR_FORMS = {
    "softmax": (
        r"a^{(${l})}_j = \frac{e^{n^{(${l})}_j}}{\sum_i e^{n^{(${l})}_i}}",
        r"\partial_k a^{(${l})}_j = a^{(${l})}_j \Big(\partial_k n^{(${l})}_j - \sum_i a^{(${l})}_i\,"
        r" \partial_k n^{(${l})}_i\Big)",
        r"\partial_{km} a^{(${l})}_j = \partial_m a^{(${l})}_j \Big(\partial_k n^{(${l})}_j - \sum_i a^{(${l})}_i\,"
        r" \partial_k n^{(${l})}_i\Big) + a^{(${l})}_j \Big(\partial_{km} n^{(${l})}_j - \sum_i \big(\partial_m"
        r" a^{(${l})}_i\, \partial_k n^{(${l})}_i + a^{(${l})}_i\, \partial_{km} n^{(${l})}_i\big)\Big)"),
    # r = sqrt(mean n^2 + eps) and its derivatives, from a_j r = n_j differentiated once and twice
    "rms_norm": (
        r"a^{(${l})}_j = \frac{n^{(${l})}_j}{r^{(${l})}},\quad r^{(${l})} = \sqrt{\tfrac{1}{${size}}"
        r" \sum_i \big(n^{(${l})}_i\big)^2 + ${eps}}",
        r"\partial_k a^{(${l})}_j = \frac{\partial_k n^{(${l})}_j - a^{(${l})}_j\, \partial_k r^{(${l})}}"
        r"{r^{(${l})}},\quad \partial_k r^{(${l})} = \tfrac{1}{${size}} \sum_i a^{(${l})}_i\,"
        r" \partial_k n^{(${l})}_i",
        r"\partial_{km} a^{(${l})}_j = \frac{\partial_{km} n^{(${l})}_j - \partial_k a^{(${l})}_j\,"
        r" \partial_m r^{(${l})} - \partial_m a^{(${l})}_j\, \partial_k r^{(${l})} - a^{(${l})}_j\,"
        r" \partial_{km} r^{(${l})}}{r^{(${l})}},\quad \partial_{km} r^{(${l})} = \tfrac{1}{${size}}"
        r" \sum_i \big(\partial_m a^{(${l})}_i\, \partial_k n^{(${l})}_i + a^{(${l})}_i\,"
        r" \partial_{km} n^{(${l})}_i\big)"),
}


@dataclass(frozen=True)
class ConstantTable:
    """One table: ``title`` (LaTeX), ``header`` cells and ``rows`` of cells (math text)."""

    title: str
    header: tuple
    rows: tuple


def _step_form(step):
    form = STEP_FORMS.get(step.kind)
    if form is None:
        raise UnsupportedError(f"the latex target cannot write a {step.kind!r} processing step")
    return form


def _fill(template, **fields):
    return Template(template).substitute(**fields)


class IndexForm:
    """Equations (value, first and second derivatives) and constant tables of a network."""

    def __init__(self, net, expression_printer, number):
        self.net = net
        self.latex = expression_printer
        self.number = number
        self.tables = []
        self.values, self.first, self.second = [], [], []

    def build(self):
        self._inputs()
        for index, layer in enumerate(self.net.layers):
            self._layer(index + 1, layer)
        self._outputs()
        return self

    # --- inputs and outputs ----------------------------------------------------------------
    def _inputs(self):
        offset = 0
        for s, inp in enumerate(self.net.inputs, start=1):
            single = len(self.net.inputs) == 1
            raw = "x" if single else f"x^{{({s})}}"
            if not single:
                self._raw_link(raw, "x", offset, inp.size)
            else:
                self.first.append(r"\partial_k x_i = \delta_{ki}")
            names = [raw] + [self._chain_name("u", s, p, single) for p in range(1, len(inp.steps))]
            names.append(r"\tilde{x}" if single else fr"\tilde{{x}}^{{({s})}}")
            if not inp.steps:
                self.values.append(f"{names[-1]}_i = {raw}_i")
            for p, step in enumerate(inp.steps, start=1):
                tag = ",".join(["x"] + ([str(s)] if not single else []) + ([str(p)] if len(inp.steps) > 1 else []))
                self._step(step, tag, names[p], names[p - 1], forward=True)
                self._step_table(step, tag, f"input {s}, step {p} ({step.kind})")
            self.second.append(fr"\partial_{{km}} {names[-1]}_i = 0")
            offset += inp.size

    def _raw_link(self, name, letter, offset, size):
        self.values.append(f"{name}_i = {letter}_{{i+{offset}}}" + r",\quad i = 1, \dots, " + str(size))
        self.first.append(fr"\partial_k {name}_i = \delta_{{k,i+{offset}}}")

    def _outputs(self):
        offset = 0
        for o, output in enumerate(self.net.outputs, start=1):
            single = len(self.net.outputs) == 1
            raw = "y" if single else f"y^{{({o})}}"
            steps = output.steps
            names = [raw] + [self._chain_name("w", o, p, single) for p in range(1, len(steps))]
            names.append(f"a^{{({output.layer + 1})}}")
            if not steps:
                self.values.append(f"{raw}_i = {names[-1]}_i")
                self._derivatives(f"{raw}_i", f"{names[-1]}_i")
            for p in range(len(steps), 0, -1):
                tag = ",".join(["y"] + ([str(o)] if not single else []) + ([str(p)] if len(steps) > 1 else []))
                self._step(steps[p - 1], tag, names[p - 1], names[p], forward=False)
                self._step_table(steps[p - 1], tag, f"output {o}, step {p} ({steps[p - 1].kind})")
            if not single:
                self.values.append(f"y_{{i+{offset}}} = {raw}_i")
            offset += self.net.output_size(output)
        self._output_maps()

    def _output_maps(self):
        """u_i = E_i(x, y_i) for the rows with an output map (symnet.ir.output_map); the
        derivatives of u are the product and chain rule on E's partial derivatives."""
        rows = all_row_maps(self.net)
        mapped = [(i, e) for i, e in enumerate(rows, start=1) if e is not None]
        if not mapped:
            return
        for i, expression in mapped:
            # the document counts from 1: x_0 of the map's text is x_1 here
            names = {x: sp.Symbol(f"x_{{{k + 1}}}", real=True)
                     for k, x in enumerate(raw_input_symbols(self.net.n_inputs))}
            names[Y] = sp.Symbol(f"y_{{{i}}}", real=True)
            self.values.append(fr"u_{{{i}}} = E_{{{i}}}(x, y_{{{i}}}) = " + self.latex(expression.xreplace(names)))
        unmapped = [i for i, e in enumerate(rows, start=1) if e is None]
        if unmapped:
            self.values.append(r"u_i = y_i,\quad i = " + ", ".join(str(i) for i in unmapped))
        self.first.append(r"\partial_k u_i = \frac{\partial E_i}{\partial x_k}"
                          r" + \frac{\partial E_i}{\partial y_i}\,\partial_k y_i")
        self.second.append(r"\partial_{km} u_i = \frac{\partial^2 E_i}{\partial x_k \partial x_m}"
                           r" + \frac{\partial^2 E_i}{\partial x_k \partial y_i}\,\partial_m y_i"
                           r" + \frac{\partial^2 E_i}{\partial x_m \partial y_i}\,\partial_k y_i"
                           r" + \frac{\partial^2 E_i}{\partial y_i^2}\,\partial_k y_i\,\partial_m y_i"
                           r" + \frac{\partial E_i}{\partial y_i}\,\partial_{km} y_i")

    def _chain_name(self, letter, number, p, single):
        return f"{letter}^{{({p})}}" if single else f"{letter}^{{({number},{p})}}"

    def _derivatives(self, target, source):
        self.first.append(fr"\partial_k {target} = \partial_k {source}")
        self.second.append(fr"\partial_{{km}} {target} = \partial_{{km}} {source}")

    def _step(self, step, tag, result, argument, forward):
        form = _step_form(step)
        constant, negated = self._constant_term(step, tag)
        fields = dict(u=result, v=argument, T=tag, c=constant, nc=negated)
        self.values.append(_fill(form.apply if forward else form.reverse, D="", **fields))
        slope = form.apply_slope if forward else form.reverse_slope
        self.first.append(_fill(slope, D=r"\partial_k", **fields))
        if not forward:  # the inputs' second derivatives are 0: every step is affine
            self.second.append(_fill(slope, D=r"\partial_{km}", **fields))

    def _constant_term(self, step, tag):
        """(`+ c_i` text, `- c_i` text) of a scaling step: one number when all are equal."""
        field = CONSTANT_FIELDS.get(step.kind)
        if field is None:
            return "", ""
        values = np.asarray(getattr(step, field), dtype=float)
        if values.size and np.all(values == values[0]):
            if values[0] == 0:
                return "", ""
            number = self.number(abs(float(values[0])))
            return ((f" - {number}", f" + {number}") if values[0] < 0 else (f" + {number}", f" - {number}"))
        return f" + c^{{{tag}}}_i", f" - c^{{{tag}}}_i"

    def _step_table(self, step, tag, title):
        columns = [(f"{letter}^{{{tag}}}_i", getattr(step, field)) for field, letter in _step_form(step).fields]
        field = CONSTANT_FIELDS.get(step.kind)
        if field and self._constant_term(step, tag)[0].startswith(" + c^"):
            columns.append((f"c^{{{tag}}}_i", getattr(step, field)))
        rows = [[str(i + 1)] + [self.number(values[i]) for _, values in columns]
                for i in range(len(columns[0][1]))] if columns else []
        header = ["i"] + [name for name, _ in columns]
        if step.kind == "removeconstantrows":
            header = ["i", f"r^{{{tag}}}_i"]
            rows = [[str(i + 1), str(k + 1)] for i, k in enumerate(step.keep)]
            rows += [[f"q = {q + 1}", f"e^{{{tag}}}_q = {self.number(c)}"]
                     for q, c in zip(step.removed, step.constants)]
        if rows:
            self.tables.append(ConstantTable(title, tuple(header), tuple(tuple(r) for r in rows)))

    # --- layers ------------------------------------------------------------------------------
    def _layer(self, l, layer):
        sums = [f"b^{{({l})}}_j"]
        first_sums, second_sums = [], []
        for source, weights in layer.input_weights:
            x = r"\tilde{x}" if len(self.net.inputs) == 1 else fr"\tilde{{x}}^{{({source + 1})}}"
            name = fr"\mathrm{{IW}}^{{({l},{source + 1})}}_{{ji}}"
            sums.append(fr"\sum_{{i=1}}^{{{weights.shape[1]}}} {name}\, {x}_i")
            first_sums.append(fr"\sum_{{i=1}}^{{{weights.shape[1]}}} {name}\, \partial_k {x}_i")
            self._matrix_table(fr"\mathrm{{IW}}^{{({l},{source + 1})}}", weights)
        for source, weights in layer.layer_weights:
            a, name = f"a^{{({source + 1})}}", fr"\mathrm{{LW}}^{{({l},{source + 1})}}_{{ji}}"
            sums.append(fr"\sum_{{i=1}}^{{{weights.shape[1]}}} {name}\, {a}_i")
            first_sums.append(fr"\sum_{{i=1}}^{{{weights.shape[1]}}} {name}\, \partial_k {a}_i")
            second_sums.append(fr"\sum_{{i=1}}^{{{weights.shape[1]}}} {name}\, \partial_{{km}} {a}_i")
            self._matrix_table(fr"\mathrm{{LW}}^{{({l},{source + 1})}}", weights)
        self._vector_table(fr"b^{{({l})}}", layer.bias)
        j_range = fr",\quad j = 1, \dots, {layer.size}"
        self.values.append(fr"n^{{({l})}}_j = " + " + ".join(sums) + j_range)
        self.first.append(fr"\partial_k n^{{({l})}}_j = " + (" + ".join(first_sums) or "0"))
        self.second.append(fr"\partial_{{km}} n^{{({l})}}_j = " + (" + ".join(second_sums) or "0"))
        self._activation(l, layer)

    def _activation(self, l, layer):
        entry = lookup(layer.transfer)
        if not entry.elementwise:
            form = VECTOR_FORMS.get(entry.name)
            if form is None:
                raise UnsupportedError(f"the latex target cannot write the {entry.name!r} transfer function")
            for equations, text in zip((self.values, self.first, self.second), form):
                equations.append(_fill(text, l=l, size=layer.size,
                                       eps=self.latex(sp.Float(dict(layer.transfer_params).get("eps", 0)))))
            return
        n = sp.Symbol("n", real=True)
        formula = entry.reference_expression(n, layer.transfer_params)
        slope = sp.diff(formula, n)
        curvature = sp.diff(slope, n)
        a, net = f"a^{{({l})}}_j", f"n^{{({l})}}_j"
        self.values += [fr"{a} = f_{{{l}}}({net})", fr"f_{{{l}}}(n) = {self.latex(formula)}"]
        self.first += [fr"\partial_k {a} = f'_{{{l}}}({net})\, \partial_k {net}",
                       fr"f'_{{{l}}}(n) = {self.latex(slope)}"]
        self.second += [fr"\partial_{{km}} {a} = f''_{{{l}}}({net})\, \partial_k {net}\, \partial_m {net}"
                        fr" + f'_{{{l}}}({net})\, \partial_{{km}} {net}",
                        fr"f''_{{{l}}}(n) = {self.latex(curvature)}"]

    def _vector_table(self, title, values):
        rows = tuple((str(i + 1), self.number(v)) for i, v in enumerate(values))
        self.tables.append(ConstantTable(f"${title}$", ("j", f"{title}_j"), rows))

    def _matrix_table(self, title, matrix):
        """The matrix in chunks of TABLE_COLUMNS columns; a wide one is shown transposed."""
        transposed = matrix.shape[0] < matrix.shape[1]
        shown = matrix.T if transposed else matrix
        rows_count, cols = shown.shape
        corner = r"i \backslash j" if transposed else r"j \backslash i"
        for start in range(0, cols, TABLE_COLUMNS):
            stop = min(start + TABLE_COLUMNS, cols)
            header = (corner,) + tuple(str(i + 1) for i in range(start, stop))
            rows = tuple((str(j + 1),) + tuple(self.number(v) for v in shown[j, start:stop])
                         for j in range(rows_count))
            part = f", columns {start + 1}--{stop}" if cols > TABLE_COLUMNS else ""
            note = ", transposed" if transposed else ""
            size = f"{matrix.shape[0]} \\times {matrix.shape[1]}"
            self.tables.append(ConstantTable(f"${title}$ (${size}${note}{part})", header, rows))
