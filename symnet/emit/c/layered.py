"""The layered form of the ``c`` target: weights as static const arrays, one
loop nest per step of a LayeredProgram, and a batch kernel that works on a
block of points at a time in structure-of-arrays layout (the point is the
innermost index of every array, so the compiler vectorizes across points).

This module turns the steps into template data (names, sizes, and every
element reference printed for the single-point and the block form); the
templates c/layered_*.j2 lay out the loops.  Where the arrays live (unions, the
split loop) is the layered stage's memory planning (symnet.layered.memory), and
tanh's slope is fused by symnet.layered.fusion.
"""

import copy

import numpy as np
import sympy as sp

from ...ir.derivative_spec import spec_of
from ...layered.fusion import folded_constant_scales, fused_tanh_slopes
from ...layered.memory import ArrayLayout, compact_layouts
from ...layered.pairing import groups
from ...layered.steps import Elementwise, Linear, Operand, OuterSum, Reduction, constant_names, reads
from ..layered_common import print_elementwise, print_output_map, print_scalars, request_programs
from ..layered_emitter import LayeredEmitter
from .literals import array_literal

#: Stack budget of the batch kernel's block of points (every array times the block size).
BLOCK_BYTES = 256 * 1024
#: A Hessian whose block of MIN_HESSIAN_BLOCK points does not fit BLOCK_BYTES may take this
#: much (a wide network's: 20-256-256-10's block of 8 points takes 440,576 bytes, within the
#: 512 KiB to 2 MiB L2 cache of current x86 cores, and runs in 0.5x the time per point of
#: single-point calls); a larger one calls the single-point function point by point.
HESSIAN_BLOCK_BYTES = 512 * 1024
#: Points per block: the largest power of two up to MAX_BLOCK within the budget; below
#: MIN_BLOCK (MIN_HESSIAN_BLOCK for a Hessian) the batch function calls the single-point
#: function point by point, which is faster there.  Measured: 16-128-128-32's Jacobian in
#: blocks of 4 / 8 / 16 points takes 2.5x / 1.4x / 0.75x the time of single-point calls
#: (their products vectorize over 128 units); 8-32-32-6's Hessian, 1.35x / 0.88x.
MAX_BLOCK = 32
MIN_BLOCK = 16
MIN_HESSIAN_BLOCK = 8
#: A single-point function whose arrays would take more stack than this keeps the ones
#: never needed at the same time in unions (smaller functions keep one plain array each).
SINGLE_UNIONS_FROM = 64 * 1024
#: A register tile of a product in the batch kernel: UNITS output units by LANES vectors
#: of points, one accumulator each.  12 accumulators, the two source vectors and a
#: broadcast weight fit the 16 vector registers of SSE2 and AVX2 (8 by 2 spills there;
#: with AVX-512's 32 it is as fast as 6 by 2, and 8 by 1 or 4 by 2 are slower on both).
UNITS = 6
LANES = 2
#: Units per tile (at most: c/group_tiles.c.j2 takes 32, 16, 8, 4 or 2 by the target's vector
#: registers) of the single-point form's products with the same weights (one loop nest for the
#: value's, the tangents' and a second derivative's product), from GROUP_TILES_FROM to
#: GROUP_TILES_UP_TO products: each product's sums of a tile stay in registers while k runs.
#: Fewer products update their sums in memory, unit after unit (too few independent sums
#: for the multiply-add's latency: with tiles of 8 units, 2-64-64-64-1's JVP (2 products)
#: took 1.4x, d2y/dx1^2 (3) 1.2x as long (3 products are tiled since the tiles of 32 units:
#: d2y/dx1^2 0.91x as long at -O3 -march=native, 0.81x with AVX2, 0.92x at -O2), the
#: Laplacian (4 and 5 products) 0.75-0.9x, gcc 12
#: -O3 -march=native, AVX-512; tiles of 16 units, two AVX-512 vectors, brought the Laplacian
#: of 3-64-64-64-1 from 0.48x to 0.37x the Hessian's time); more than 8 products' sums would
#: not fit the registers (not measured: kept in memory).  4 products in double precision take
#: 32 units with AVX-512 (16 sums of 4 vectors each, half the 32 registers): 2-64-64-64-1's
#: d2y/dx1dx2 went from 0.50x to 0.43x the Hessian's time (gcc 12 -O3 -march=native); 5 to 8
#: products keep 16 units (the multiples of 16 left over by GROUP_UNITS take tiles of 16).
GROUP_UNITS = 32
#: Copies of each source element a tiled group reads, one per lane of a vector, where the target
#: has no load that broadcasts one double to a vector (x86-64's SSE2 without AVX: c/group_tiles.c.j2).
#: Reading a copy is a plain vector load; broadcasting the element took a scalar load and a shuffle
#: per product and row, and left too few registers for 4 units (2 vectors) a product: with the
#: copies, tiles of 4 units brought 3-64-64-64-1's Laplacian from 0.69-0.71x to 0.56x the
#: Hessian's time (gcc 12 -O2, x86-64 baseline; -O3 -march=native compiles the same code as before).
SOURCE_COPIES = 2
GROUP_TILES_FROM = 3
GROUP_TILES_UP_TO = 8
#: The single-point form tiles products over a leading axis from this many units on (at
#: 20 units, 5-20-20-3's adjoints, the untiled loops are faster; at 256, 40% slower).
LEAD_TILES_FROM = 32
#: From this many weights and biases on, every weight matrix is stored once, as the
#: network has it (the source and gcc's time grow with the number of literals: 5.3M
#: weights take 25 s of gcc's CPU time to parse); below, single-point products read a
#: transposed copy where they need one, to run over contiguous memory.
ONE_COPY_FROM = 1 << 17
#: A single-point function's element-wise loop over more than PAD_FROM units that leaves
#: units over after its vectors of WHOLE_REMAINDER (gcc 12 works a remainder of 4 units as
#: one AVX vector, of 1 to 3 one unit at a time, each a full scalar tanh or exp) runs over
#: SYMNET_PADDED(units) (c/padded_units.c.j2: a multiple of PAD_TO with AVX-512, of 4 with
#: AVX, the units themselves without), where every array it reads is written, padded units
#: included, by a padded product (of constants padded with zeros) or an earlier padded
#: step: the extra units compute f(0), which nothing reads.  3-10-1's value took 20 ns,
#: its Laplacian 26 ns, padded to 16 units 16 and 20.5 ns (the Hessian, bound by its
#: products, 41 ns either way), gcc 12 -O3 -march=native, AVX-512; with -O2 -march=native
#: 33 and 45 ns, padded 22.5 and 25 ns (the Hessian 78 -> 64 ns).  Without AVX (plain -O2,
#: SSE2) gcc does not vectorize these loops and padding would only add work (the value
#: 98 ns, padded by hand 153 ns): SYMNET_PADDED is the units themselves there.
PAD_FROM = 8
PAD_TO = 8
WHOLE_REMAINDER = 4
#: Functions printed as the branch-free versions of c/vector_math.c.j2 (double precision).
VECTOR_FUNCTIONS = {"exp": "symnet_exp", "tanh": "symnet_tanh", "symnet_tanh_slope": "symnet_tanh_slope"}
#: Loop variable of each axis: output row, input column (tangent direction).
AXIS_VARIABLES = {"out": "o", "in": "m"}
RESULT = "result"
#: The arrays a function takes: the raw inputs x and the extra arguments v, w (symnet.ir.derivative_spec).
ARGUMENTS = ("x", "v", "w")


def _flat(names, dims):
    text = names[0]
    for name, size in zip(names[1:], dims[1:]):
        text = f"({text}) * {size} + {name}" if " " in text else f"{text} * {size} + {name}"
    return text


class _References:
    """Element references of a program's operands, single-point and block form (where
    ``layout`` may hold an array in a union and drop its split axis; ``single_layout``
    may hold it in a union of the single-point function)."""

    def __init__(self, program, output, layout=None, single_layout=None):
        self.program, self.output = program, output
        self.layout = layout or ArrayLayout.plain(program)
        self.single_layout = single_layout or ArrayLayout.plain(program)
        self.shapes = {operand.name: shape for operand, shape in program.arrays}
        # the raw inputs, v, w and a user expression's parameters are the function's arguments
        self.arguments = set(ARGUMENTS) | {name for name, _ in spec_of(program.what).extra_arguments}

    def __call__(self, operand, unit, lead=None):
        """{"single": ..., "block": ..., "constant": ...} for the element of ``operand`` at
        the loop variables of its axes (``lead`` overrides them) and the unit ``unit``."""
        names = list(lead if lead is not None else [AXIS_VARIABLES[a] for a in operand.axes]) + [unit]
        index = "".join(f"[{n}]" for n in names)
        if operand.constant:
            return {"single": operand.name + index, "block": operand.name + index, "constant": True}
        if operand.name in self.arguments:   # the raw inputs (or v, w): the argument, or the block of points
            return {"single": f"{operand.name}[{unit}]", "block": f"{operand.name}b[{unit}][p]", "constant": False}
        if operand.name == self.program.result.name:
            shape = self.shapes[operand.name]
            # inside the loop over a split axis the block holds that row of the result only
            block = _flat(self.layout.kept(operand, names), self.layout.kept(operand, list(shape)))
            return {"single": f"{self.output}[{_flat(names, shape)}]", "block": f"{RESULT}[{block}][p]",
                    "constant": False}
        def element(layout):
            return layout.storage_name(operand.name) + "".join(f"[{n}]" for n in layout.kept(operand, names))
        return {"single": element(self.single_layout), "block": element(self.layout) + "[p]", "constant": False}


class CLayeredEmitter(LayeredEmitter):
    """Template data of one layered function."""

    language = "c"

    def __init__(self, program, printer, literal, output, matrices, layout, single_layout, fused, one_copy,
                 lanes=LANES, padded_constants=None):
        self.program, self.printer, self.literal, self.fused = program, printer, literal, fused
        # the single-point form pads its loops (PAD_FROM) where it may: the constants its
        # padded products read, shared by the functions of one file, go here; the arrays, to
        # ``padded_arrays``
        self.padded_constants, self.padded_arrays = padded_constants, set()
        self.one_copy, self.lanes = one_copy, lanes
        self.constants = dict(program.constants)   # looked up by every step: built once
        self.ref = _References(program, output, layout, single_layout)
        self.matrices, self.blocks, self.layout = matrices, layout is not None, self.ref.layout

    def steps(self):
        data = []
        for step in self.program.steps:
            data.append({"kind": type(step).__name__.lower(), **self.emit_step(step), "padded": False})
        for start, count in groups(self.program.steps):
            if self.fusable(start, data[start:start + count]):
                data[start]["group"] = data[start + 1:start + count]
                data[start]["tiled"] = GROUP_TILES_FROM <= count <= GROUP_TILES_UP_TO
                data[start]["group_tiles"] = _group_tiles(data[start]["size"], count)
                for member in data[start + 1:start + count]:
                    member["paired"] = True
        if self.padded_constants is not None and self.fused and not self.one_copy:   # double, vector math
            self.pad(data)
        return data

    def pad(self, data):
        """Mark the element-wise steps of more than PAD_FROM units (not a multiple of PAD_TO)
        that the single-point form runs over SYMNET_PADDED units, and the products they
        read, run so too: every array such a step reads must be written, padded units
        included, by a padded product or an earlier padded step (the products read
        constants padded with zeros: the extra units are f(0), read by no one)."""
        layout = self.ref.single_layout
        if layout.split or any(len(members) > 1 for members in layout.unions):
            return
        products = {step.out.name: index for index, step in enumerate(self.program.steps)
                    if isinstance(step, Linear) and self.paddable(step, data[index])}
        written = set()
        for index, step in enumerate(self.program.steps):
            if not isinstance(step, Elementwise) or step.size <= PAD_FROM or step.size % WHOLE_REMAINDER == 0:
                continue
            targets = {target.name for target, _ in step.statements if isinstance(target, Operand)}
            read = {operand.name for _, operand in step.arguments} - targets
            if not all(name in written or name in products for name in read) \
                    or self.program.result.name in targets:
                continue
            data[index]["padded"] = True
            for name in read - written:
                product, item = self.program.steps[products[name]], data[products[name]]
                item["padded"] = True
                self.padded_constants.update(term["matrix"] for term in item["terms"])
                if product.offset is not None:
                    self.padded_constants.add(product.offset.name)
            written |= read | targets
        self.padded_arrays = written

    def paddable(self, step, item):
        """True for a product the single-point form runs in its plain loops (no tiles, no
        leading axes, not paired), of constant weights and offset, into one of its own arrays."""
        return (not step.out.axes and step.out.name != self.program.result.name and item["first"] == "0"
                and not (item["row_groups"] or item["lead_groups"] or item["group"] or item["paired"])
                and (step.offset is None or (step.offset.constant and not step.offset.axes))
                and all(term["matrix"] is not None and term["scaled_row"] is None for term in item["terms"]))

    def fusable(self, start, members):
        """True when the single-point form computes the products from ``start`` on
        (symnet.layered.pairing: the same weights) in one loop nest, each weight read once
        for all: every one in the plain form, not split apart by the loop over a split axis,
        and the outputs in storage (a union) apart from each other and from the sources."""
        if any(s["lead"] or s["row_groups"] or s["lead_groups"] for s in members):
            return False
        split = self.ref.single_layout.split
        if split and start < split[2] < start + len(members):
            return False
        layout, steps = self.ref.single_layout, self.program.steps[start:start + len(members)]

        def storage(operand):   # the union (or plain array) that holds it
            return layout.storage_name(operand.name).split(".")[0]
        outs = [storage(step.out) for step in steps]
        sources = {storage(o) for step in steps for o in reads(step) if not o.constant}
        return len(set(outs)) == len(outs) and not set(outs) & sources

    def shape(self, operand):
        return self.ref.shapes[operand.name]

    def lead(self, operand, layout):
        """The leading loops of ``operand`` in ``layout``."""
        return layout.kept(operand, [(AXIS_VARIABLES[a], n) for a, n in zip(operand.axes, self.shape(operand)[:-1])])

    def single_lead(self, operand):
        return self.lead(operand, self.ref.single_layout)

    def block_lead(self, operand):
        return self.lead(operand, self.layout)

    def shift(self, step):
        return {"out": self.ref(step.out, "k"), "source": self.ref(Operand("x", ()), "k"), "offset": step.offset,
                "size": self.shape(step.out)[-1]}

    def linear(self, step):
        """One point: out[j] += M[k][j]·src[k] over k, j (M = Wᵀ forward, W reverse: j contiguous).
        A block: out[j][p] = Σ_k M'[j][k]·src[k][p] (M' = W forward, Wᵀ reverse: k contiguous)
        in register tiles (unit_groups); the sums run in the same order, with the same
        multiply-adds (SYMNET_MADD), so both forms give the same numbers.  With one copy
        of each weight (``self.one_copy``) only W is stored: the block reads Wᵀ[j][k] as
        W[k][j] (the tile's units side by side), and a single-point product with W in
        the other orientation sums its units one by one in tiles (row_groups)."""
        terms = [self.term(term, index) for index, term in enumerate(step.terms)]
        rows = any(term["matrix"] is None for term in terms)
        offset = None if step.offset is None else self.ref(step.offset, "j")
        return {"out": self.ref(step.out, "j"), "lead": self.single_lead(step.out),
                "block_lead": self.block_lead(step.out), "size": step.size, "offset": offset, "terms": terms,
                "first": _first_unit(step),
                "groups": self.unit_groups(step, terms) if self.blocks else [],
                "scaled_rows": [term["scaled_row"] for term in terms if term["scaled_row"]],
                "outer_lead": self.single_lead(step.out)[:-1],
                "lead_groups": [] if rows else self.lead_groups(step),
                "row_groups": self.row_groups(step, terms) if rows else [],
                "tile_out": self.ref(step.out, "j + u"),
                "tile_offset": None if step.offset is None else self.ref(step.offset, "j + u"),
                "group": [], "paired": False}   # set by ``steps`` where it fuses products

    def term(self, term, index):
        """Template data of one term: ``matrix``, the array the single-point form reads as
        M[k][j] (None: it reads ``row``, the weights of unit j at k, j a format field
        ``{unit}``); ``block_weight``, the same in the block form; ``scaled_row``, for a
        source read times a scale (Term.scale, the batch kernel only), the block of the
        scaled source at one index of the leading axes, computed before the product."""
        weights = np.asarray(self.constants[term.weights])
        source = self.ref(term.source, "k")
        scaled_row = None
        if term.scale is not None:
            name = f"row{index}"
            scaled_row = {"name": name, "size": term.source_size,
                          "value": f"{source['block']} * {self.ref(term.scale, 'k')['block']}"}
            source = {"single": None, "block": f"{name}[k][p]", "constant": False}
        name, transposed = term.weights, f"{term.weights}_T"
        if self.one_copy:
            self.matrices.setdefault(name, weights)
            row = f"{name}[k][{{unit}}]" if term.transpose else f"{name}[{{unit}}][k]"
            return {"matrix": name if term.transpose else None, "row": row, "block_weight": row,
                    "source": source, "source_size": term.source_size, "scaled_row": scaled_row}
        single, block = (name, transposed) if term.transpose else (transposed, name)
        self.matrices.setdefault(single, weights if single == name else weights.T)
        if self.blocks:
            self.matrices.setdefault(block, weights if block == name else weights.T)
        return {"matrix": single, "row": None, "block_weight": f"{block}[{{unit}}][k]",
                "source": source, "source_size": term.source_size, "scaled_row": scaled_row}

    def row_groups(self, step, terms):
        """The single-point form's register tiles where a term's weights are stored rows
        first: UNITS output units at a time, one accumulator each while k runs."""
        return [{"loop": loop, "units": [
            {"sum": f"s{i}", "out": self.ref(step.out, unit)["single"],
             "offset": self.literal(0.0) if step.offset is None else self.ref(step.offset, unit)["single"],
             "weights": [term["row"].format(unit=unit) for term in terms]} for i, unit in enumerate(units)]}
            for loop, units in _unit_tiles(step.size)]

    def lead_groups(self, step):
        """The single-point form's register tiles where the output has a leading axis (the
        adjoints of several outputs, the tangents of several inputs): UNITS values of its
        last leading index at a time, each an accumulator over a vector of units j while
        k runs (every weight row read once per tile, every source element broadcast).
        None for the result (written through the caller's pointer), one leading value, or
        fewer than LEAD_TILES_FROM units (the scalar remainder of the vector loop over j
        then costs more than the tiles save)."""
        lead = self.single_lead(step.out)
        if (not lead or lead[-1][1] < 2 or step.out.name == self.program.result.name
                or step.size < LEAD_TILES_FROM):
            return []
        var, count = lead[-1]
        full = count - count % UNITS
        groups = []
        if full:
            groups.append((f"for (int {var} = 0; {var} < {full}; {var} += {UNITS}) ",
                           [var] + [f"{var} + {i}" for i in range(1, UNITS)]))
        if full < count:
            groups.append(("", [str(value) for value in range(full, count)]))

        def at(operand, unit, value):
            names = [value if AXIS_VARIABLES[a] == var else AXIS_VARIABLES[a] for a in operand.axes]
            return self.ref(operand, unit, names)["single"]
        return [{"loop": loop, "tile": "&" + at(step.out, "j", values[0])[:-len("[j]")], "units": [
            {"sum": f"s{i}", "sources": [at(term.source, "k", value) for term in step.terms],
             "offset": self.literal(0.0) if step.offset is None else at(step.offset, "j", value)}
            for i, value in enumerate(values)]} for loop, values in groups]

    def unit_groups(self, step, terms):
        """The block form's register tiles: UNITS output units at a time (a loop over j in
        steps of UNITS, then one group of the remaining units) by LANES vectors of points
        (the points p and p + BLOCK/2 when 2), each an accumulator that stays in a
        register while k runs: every weight is broadcast once per tile and every source
        element read once per group.  The group's outputs are written through one
        pointer (``tile``): gcc vectorizes the loop over the points around the loop over
        k only when it can tell the output rows apart."""
        sources = [[_lane(term["source"]["block"], lane, self.lanes) for lane in range(self.lanes)] for term in terms]
        return [{"loop": loop, "tile": "&" + self.ref(step.out, units[0])["block"][:-len("[p]")],
                 "points": "BLOCK" if self.lanes == 1 else f"BLOCK / {self.lanes}", "sources": sources,
                 "units": [self.tile_unit(step, terms, i, unit) for i, unit in enumerate(units)]}
                for loop, units in _unit_tiles(step.size, _first_unit(step))]

    def tile_unit(self, step, terms, i, unit):
        offset = None if step.offset is None else self.ref(step.offset, unit)["block"]
        lanes = range(self.lanes)
        return {"sums": [f"s{i}" + "abcd"[lane] for lane in lanes],
                "outs": [_lane(f"tile[{i}][p]", lane, self.lanes) for lane in lanes],
                "offsets": [self.literal(0.0) if offset is None else _lane(offset, lane, self.lanes) for lane in lanes],
                "weights": [term["block_weight"].format(unit=unit) for term in terms]}

    def elementwise(self, step):
        if self.fused:
            step = fused_tanh_slopes(step)
        single = print_elementwise(step, self.printer, lambda o: self.ref(o, "j")["single"])
        block = print_elementwise(step, self.printer, lambda o: self.ref(o, "j")["block"])
        statements = []
        for (target, text), (_, block_text) in zip(single, block):
            if isinstance(target, str):
                statements.append({"temporary": target, "single": text, "block": block_text})
            else:
                statements.append({"temporary": None, "out": self.ref(target, "j"), "single": text,
                                   "block": block_text})
        return {"size": step.size, "statements": statements}

    def reduction(self, step):
        """The scalars (a sum or a max over the units k, or one value), then the statements
        over the units j, per point and per index of the outputs' leading axes.  Both forms
        are printed from one text with a mark per array (sympy orders the terms of a sum by
        the names in it: the element references would order the two forms differently, and
        the batch kernel must give the single-point function's numbers)."""
        marks = {symbol: sp.Symbol(f"SYMNETARG{i}X", real=True) for i, (symbol, _) in enumerate(step.arguments)}
        marked = Reduction(tuple((s, o, sp.sympify(e).xreplace(marks)) for s, o, e in step.scalars),
                           tuple((t, sp.sympify(e).xreplace(marks)) for t, e in step.statements), step.size, ())

        def filled(text, unit, form):
            for symbol, operand in step.arguments:
                text = text.replace(marks[symbol].name, self.ref(operand, unit)[form])
            return text
        scalars = [{"name": name, "operator": operator, "single": filled(text, "k", "single"),
                    "block": filled(text, "k", "block"),
                    "first": {"single": filled(text, "0", "single"), "block": filled(text, "0", "block")}}
                   for name, operator, text in print_scalars(marked, self.printer, None)]
        statements = []
        for target, text in print_elementwise(marked, self.printer, None):
            single, block = filled(text, "j", "single"), filled(text, "j", "block")
            statements.append({"temporary": target, "single": single, "block": block} if isinstance(target, str)
                              else {"temporary": None, "out": self.ref(target, "j"), "single": single,
                                    "block": block})
        return {"size": step.size, "lead": self.single_lead(step.out), "block_lead": self.block_lead(step.out),
                "scalars": scalars, "statements": statements}

    def scale(self, step):
        return {"out": self.ref(step.out, "j"), "lead": self.single_lead(step.out),
                "block_lead": self.block_lead(step.out), "size": step.size,
                "source": self.ref(step.source, "j"), "slope": self.ref(step.slope, "j")}

    def secondorder(self, step):
        ref = self.ref
        return {"out": ref(step.out, "j"), "lead": self.single_lead(step.out), "block_lead": self.block_lead(step.out),
                "size": step.size,
                "adjoint_tangent": None if step.adjoint_tangent is None else ref(step.adjoint_tangent, "j"),
                "adjoint": None if step.adjoint is None else ref(step.adjoint, "j"),
                "tangent": ref(step.tangent, "j"),
                "slope": None if step.slope is None else ref(step.slope, "j"),
                "curvature": None if step.curvature is None else ref(step.curvature, "j")}

    def outersum(self, step):
        """out[o][k][m] = Σ_terms Σ_u w[o][u]·t[k][u]·t[m][u] for m >= k, then mirrored.  One
        point: each term's tangent transposed (tT[u][m]: when the step runs, or stored once
        for a constant tangent), so that the innermost loop, over m, runs over contiguous
        memory; a block: the innermost loop is over the points."""
        ref = self.ref
        lead = [item for item in self.single_lead(step.out) if item[0] == "o"]
        block_lead = [item for item in self.block_lead(step.out) if item[0] == "o"]
        terms = [{"weight": ref(weight, "u", ["o"]), "tangent_k": ref(tangent, "u", ["k"]),
                  "tangent_m": ref(tangent, "u", ["m"]), "units": units,
                  "transposed": self.transposed_constant(tangent) if not self.blocks else None}
                 for weight, tangent, units in step.terms]
        return {"lead": lead, "block_lead": block_lead, "size": step.size, "terms": terms,
                "tiles": self.outer_tiles(step) if self.blocks else [],
                "upper": ref(step.out, "m", ["o", "k"]), "lower": ref(step.out, "k", ["o", "m"])}

    def outer_tiles(self, step):
        """The block form's register tiles of an OuterSum, per row k: UNITS entries m (from
        the tile that holds m = k) each an accumulator of a vector of points while u runs
        over every term's units, so that the sums stay in registers and the loop over the
        points is the one vectorized (the same sums, in the same order, as the single-point
        form's)."""
        # written through one pointer, as the products' tiles (CLayeredEmitter.unit_groups)
        return [{"loop": loop, "tile": "&" + self.ref(step.out, units[0], ["o", "k"])["block"][:-len("[p]")],
                 "units": [
            {"sum": f"s{i}", "out": f"tile[{i}][p]",
             "tangents": [self.ref(tangent, "u", [m])["block"] for _, tangent, _ in step.terms]}
            for i, m in enumerate(units)]} for loop, units in _unit_tiles(step.size, "k")]

    def transposed_constant(self, operand):
        """The name of a constant tangent's transpose, stored once (None for a variable one, or
        where every weight is stored once: there the step transposes it when it runs)."""
        if not operand.constant or self.one_copy:
            return None
        name = f"{operand.name}_T"
        self.matrices.setdefault(name, np.asarray(self.constants[operand.name]).T)
        return name

    def gather(self, step):
        rows = []
        for source, out_rows, units, scale, shift in step.blocks:
            scales = self.constants.get(scale)
            shifts = self.constants.get(shift)
            for i, (row, unit) in enumerate(zip(out_rows, units)):
                lead = ["m"] if step.transposed else []
                rows.append({"out": self.ref(step.out, "m" if step.transposed else str(row),
                                             [str(row)] if step.transposed else []),
                             "source": self.ref(source, str(unit), lead if step.transposed else None),
                             "scale": None if scales is None else self.literal(scales[i]),
                             "shift": None if shifts is None else self.literal(shifts[i])})
        fills = [{"out": self.ref(step.out, "m" if step.transposed else str(row), [str(row)] if step.transposed
                                  else []), "value": self.literal(value)} for row, value in step.fill]
        return {"rows": rows, "fills": fills, "transposed": step.transposed, "size": step.size,
                "block_across": step.transposed and not self.layout.split,
                "single_across": step.transposed and not self.ref.single_layout.split}

    def symmetrize(self, step):
        n_out, n_in, _ = self.shape(step.out)
        return {"upper": self.ref(step.out, "m", ["o", "k"]), "lower": self.ref(step.out, "k", ["o", "m"]),
                "n_out": n_out, "n_in": n_in,
                "single_rows": not self.ref.single_layout.splits(step.out), "block_rows": not self.layout.splits(step.out)}

    def outputmap(self, step):
        """out = source element by element, then the mapped rows' entries (no split layout
        holds this step: symnet.layered.memory splits only products and scalings)."""
        variables = {0: ([], "j"), 1: (["o"], "k"), 2: (["o", "m"], "k")}[len(step.out.axes)]
        loops = list(zip(variables[0] + [variables[1]], self.shape(step.out)))

        def element(operand, index):
            *lead, unit = [str(i) for i in index]
            return self.ref(operand, unit, lead)
        single = print_output_map(step, self.printer, lambda o, i: element(o, i)["single"])
        block = print_output_map(step, self.printer, lambda o, i: element(o, i)["block"])
        entries = [{"targets": [element(step.out, target) for target in targets], "single": text,
                    "block": block_text} for (targets, text), (_, block_text) in zip(single, block)]
        return {"loops": loops, "out": self.ref(step.out, variables[1], variables[0]),
                "source": None if step.source is None else self.ref(step.source, variables[1], variables[0]),
                "entries": entries}


def _first_unit(step):
    """The first unit j a product computes: "m" (a loop variable of its leading axes) where
    only the upper triangle j >= m of a Hessian is read (Linear.upper), else "0"."""
    return "m" if step.upper else "0"


def _unit_tiles(size, first="0"):
    """(loop header, units) of UNITS units at a time: a loop over j in steps of UNITS
    (from the tile that holds unit ``first``), then one group of the remaining units."""
    full = size - size % UNITS
    start = "0" if first == "0" else f"{first} / {UNITS} * {UNITS}"
    groups = []
    if full:
        groups.append((f"for (int j = {start}; j < {full}; j += {UNITS}) ",
                       ["j"] + [f"j + {i}" for i in range(1, UNITS)]))
    if full < size:
        groups.append(("", [str(unit) for unit in range(full, size)]))
    return groups


def _group_tiles(size, products):
    """(loop header, units) of the single-point form's ``products`` with the same weights
    (CLayeredEmitter.fusable): SYMNET_GROUP_UNITS units of each at a time over the multiples
    of GROUP_UNITS, then SYMNET_GROUP_UNITS_16 over those of 16 or, for more than 4 products,
    SYMNET_GROUP_UNITS_MANY over the multiples of 16 (each a divisor of its multiple, chosen
    by the compiler's target: c/group_tiles.c.j2), then the rest in one tile."""
    widths = ((16, "SYMNET_GROUP_UNITS_MANY"),) if products > 4 else \
        ((GROUP_UNITS, "SYMNET_GROUP_UNITS"), (16, "SYMNET_GROUP_UNITS_16"))
    tiles, start = [], 0
    for width, units in widths:
        end = size - (size - start) % width
        if end > start:
            tiles.append({"loop": f"for (int j = {start}; j < {end}; j += {units}) ", "units": units})
        start = end
    if start < size:
        tiles.append({"loop": f"for (int j = {start}; j < {size}; j += {size - start}) ", "units": size - start})
    return tiles


def _lane(reference, lane, lanes):
    """The block reference (ending in [p] when it is per point) at lane ``lane`` of ``lanes``."""
    if lane == 0 or not reference.endswith("[p]"):
        return reference
    offset = f"BLOCK / {lanes}" + (f" * {lane}" if lane > 1 else "")
    return reference[:-len("[p]")] + f"[p + {offset}]"


def vector_math(real):
    """True when the layered code uses the vectorizable exp and tanh (double precision)."""
    return real == "double"


_BYTES = {"double": 8, "float": 4}


def stack_text(functions):
    """One line on the stack use of the layered functions (for the source's comment)."""
    single = max(f["stack_bytes"] for f in functions)
    block = max(f["block_stack_bytes"] for f in functions)
    text = f"at most {single} bytes per call of a single-point function"
    return text + (f", {block} bytes in a batch function" if block else "")


def _block_doubles(layout, size, n_inputs):
    """Numbers per point of the batch kernel's block: the arrays, the result and the inputs."""
    return layout.doubles() + size + n_inputs


def _block_size(doubles, what):
    """Points per block of the batch kernel, or None (call the single-point function):
    the most (a power of two up to MAX_BLOCK) within BLOCK_BYTES; a Hessian where fewer
    than MIN_HESSIAN_BLOCK fit there takes MIN_HESSIAN_BLOCK within HESSIAN_BLOCK_BYTES."""
    doubles += 64
    smallest = MIN_HESSIAN_BLOCK if what == "hessian" else MIN_BLOCK
    block = MAX_BLOCK
    while block >= smallest and doubles * block * 8 > BLOCK_BYTES:
        block //= 2
    if block < smallest and what == "hessian" and doubles * smallest * 8 <= HESSIAN_BLOCK_BYTES:
        return smallest
    return block if block >= smallest else None


def _lanes(block):
    """Vectors of points per register tile: LANES, but each of at least 8 points (one
    AVX-512 vector of doubles): a block of 8 points is one lane."""
    return max(1, min(LANES, (block or 0) // 8))


def _result_rows(program, layout):
    """How many rows of the result the batch kernel's loop over a split axis works out one
    at a time (the block then holds one row): the count of that axis where the result
    leads with it, else 1."""
    result = program.result
    return layout.split[1] if layout.splits(result) else 1


def _block_plan(program, size, inputs):
    """(numbers per point, program, layout, result rows) of the batch kernel's block: the
    program as it is or with its constant tangents' scalings folded into the products that
    read them (folded_constant_scales), whichever block is smaller (as it is where equal)."""
    plans, folded = [], folded_constant_scales(program)
    for candidate in (program,) if folded is program else (program, folded):
        layout = compact_layouts(candidate)[0]
        rows = _result_rows(candidate, layout)
        doubles = _block_doubles(layout, size // rows, inputs) + _scaled_row_doubles(candidate)
        plans.append((doubles, candidate, layout, rows))
    return min(plans, key=lambda plan: plan[0])


def _scaled_row_doubles(program):
    """Numbers per point of the largest product's scaled sources (Term.scale), held while it runs."""
    return max((sum(term.source_size for term in step.terms if term.scale is not None)
                for step in program.steps if isinstance(step, Linear)), default=0)


def _transposed_tangent_doubles(program, one_copy):
    """Numbers of the largest tangent an OuterSum step transposes on the stack (one at a time):
    a variable one, or any with one copy of each weight (CLayeredEmitter.transposed_constant)."""
    return max((units * step.size for step in program.steps if isinstance(step, OuterSum)
                for _, tangent, units in step.terms if one_copy or not tangent.constant), default=0)


def _source_copy_doubles(steps):
    """Numbers of the largest group of tiled products' sources copied per vector lane (at most
    SOURCE_COPIES, SSE2's: c/group_tiles.c.j2), held while the group runs."""
    return max((SOURCE_COPIES * (1 + len(step["group"])) * sum(term["source_size"] for term in step["terms"])
                for step in steps if step.get("tiled")), default=0)


def _padded_units(n):
    """The most units SYMNET_PADDED(n) takes (AVX-512's)."""
    return -(-n // PAD_TO) * PAD_TO


def declarations(layout, padded=frozenset()):
    """Template data of the C declarations of a layout's arrays: a union per shared group;
    the ``padded`` arrays (plain) SYMNET_PADDED units long."""
    def member(name, dims):
        last = f"SYMNET_PADDED({dims[-1]})" if name in padded else dims[-1]
        return {"name": name, "dims": "".join(f"[{n}]" for n in tuple(dims[:-1]) + (last,))}
    return [{"union": union, "members": [member(name, dims) for name, dims in members]}
            for union, members in zip(layout.union_names, layout.unions)]


def _split_loop(layout):
    """The template data of the loop over a layout's split axis, or None."""
    if not layout.split:
        return None
    axis, count, first = layout.split
    return {"var": AXIS_VARIABLES[axis], "count": count, "first": first}


def layered_functions(request, printer, literal, real, base):
    """(functions, constants): template data of every requested function (``base``:
    the fields the unrolled form has too, as a function of (what, size)) and the
    static const arrays they read, in order of first use."""
    programs = request_programs(request)
    if vector_math(real):
        printer = copy.copy(printer)
        printer.known_functions = {**printer.known_functions, **VECTOR_FUNCTIONS}
    matrices, functions, padded_constants = {}, [], set()
    for what, program in programs:
        function = base(what, program.shape)
        inputs = request.network.n_inputs + sum(argument["size"] for argument in function["arguments"])
        block_doubles, block_program, layout, result_rows = _block_plan(program, function["size"], inputs)
        large_single_layout = compact_layouts(program)[1]
        block = _block_size(block_doubles, what)
        single_layout = ArrayLayout.plain(program)
        if single_layout.doubles() * _BYTES[real] > SINGLE_UNIONS_FROM:
            single_layout = large_single_layout
        single = CLayeredEmitter(program, printer, literal, function["output"], matrices, None, single_layout,
                                 vector_math(real), one_copy(request.network), padded_constants=padded_constants)
        function["steps"] = single.steps()
        padded_arrays = single.padded_arrays
        if block:
            batch = CLayeredEmitter(block_program, printer, literal, function["output"], matrices, layout,
                                    single_layout, vector_math(real), one_copy(request.network), _lanes(block))
            function["block_steps"] = batch.steps()
        split = _split_loop(layout)
        if split:
            split["result_row"] = function["size"] // result_rows if result_rows > 1 else None
        function.update({
            "body": "c/layered_body.c.j2",
            "arrays": declarations(single_layout, padded_arrays),
            "block": block,
            "block_arrays": declarations(layout),
            "block_result": function["size"] // result_rows,
            "split": split,
            "single_split": _split_loop(single_layout),
            "context": {"real": real, "zero": literal(0.0)},
        })
        function["batch_body"] = "c/layered_batch.c.j2" if function["block"] else None
        padding = sum(_padded_units(shape[-1]) - shape[-1] for operand, shape in program.arrays
                      if operand.name in padded_arrays)
        function["stack_bytes"] = (single_layout.doubles() + padding
                                   + _transposed_tangent_doubles(program, one_copy(request.network))
                                   + (_source_copy_doubles(function["steps"]) if real == "double" else 0)) * _BYTES[real]
        function["block_stack_bytes"] = block_doubles * (block or 0) * _BYTES[real]
        functions.append(function)
    constants = {}
    for _, program in programs:
        values = dict(program.constants)
        for name in constant_names(program.steps):
            constants.setdefault(name, values[name])
    constants.update(matrices)
    return functions, [{"name": name, "dims": _dims(np.shape(value), name in padded_constants),
                        "value": array_literal(value, real)} for name, value in constants.items()]


def _dims(shape, padded):
    """The C dimensions of a constant array: the last SYMNET_PADDED (the rest zeros) where ``padded``."""
    last = f"SYMNET_PADDED({shape[-1]})" if padded else shape[-1]
    return "".join(f"[{n}]" for n in tuple(shape[:-1]) + (last,))


def one_copy(net):
    """True when every weight matrix is stored once (see ONE_COPY_FROM)."""
    return net.parameter_count >= ONE_COPY_FROM

