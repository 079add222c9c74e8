"""Steps of a layered program: the array operations (matrix products,
element-wise functions, gathers) every target turns into loops or matrix
products, and the pruning of the steps a result does not need.

Every array has named axes: "b" (the point in a batch; constants have none),
"out" (a raw output row), "in" (a raw input column, the direction of a
tangent) and "u" (a unit of a layer, always last).
"""

import dataclasses
from dataclasses import dataclass
from typing import Optional

import sympy as sp


VECTOR, TANGENT, ADJOINT, ADJOINT_TANGENT = (), ("in",), ("out",), ("out", "in")


@dataclass(frozen=True)
class Operand:
    name: str
    axes: tuple          # per-point axes, without "b"
    constant: bool = False


@dataclass(frozen=True)
class Shift:
    """out = x - offset (offset: constant of shape (n_inputs,))."""
    out: Operand
    offset: str


@dataclass(frozen=True)
class Term:
    """source · Wᵀ (forward: W is (size, source size)) or source · W (``transpose``: W is (source size, size)).
    ``scale``: where given, the source is read times it along the source's units (a constant
    tangent through an element-wise slope, folded into the product: symnet.layered.fusion)."""
    weights: str
    source: Operand
    source_size: int
    transpose: bool
    scale: Optional[Operand] = None


@dataclass(frozen=True)
class Linear:
    """out[..., j] = offset[..., j] + Σ terms (no offset and no terms: zeros).
    ``upper``: out is a Hessian (last two axes both inputs) that a Symmetrize step mirrors
    next, so only its upper triangle j >= m is read: an emitter may leave j < m out."""
    out: Operand
    size: int
    offset: Optional[Operand]
    terms: tuple
    upper: bool = False


class _Statements:
    """The outputs of a step made of ``statements``: its assignments to Operands, the first
    one its ``out``."""

    @property
    def assignments(self):
        return tuple((target, e) for target, e in self.statements if isinstance(target, Operand))

    @property
    def out(self):
        return self.assignments[0][0]


@dataclass(frozen=True)
class Elementwise(_Statements):
    """For every unit u, in order, each statement ``target = expression``: a target is
    an Operand (an output array, element u) or a sympy Symbol (a temporary, a
    subexpression the outputs share).  Expressions are written in the per-element
    symbols N, A, D, bound by ``arguments`` to arrays (the net input and earlier
    outputs of this step), and in the temporaries."""
    statements: tuple    # ((Operand or Symbol, expression), ...)
    size: int
    arguments: tuple     # ((symbol, Operand), ...)


@dataclass(frozen=True)
class Reduction(_Statements):
    """For every point and every index of the outputs' leading axes (they share them):
    first each scalar ``(symbol, operator, expression)`` in order, where operator "sum" or
    "max" runs over the units (the expression written in the per-element symbols and the
    earlier scalars) and "once" is one expression of the earlier scalars; then, for every
    unit, the statements as in Elementwise (they may read the scalars).  A function of
    the whole layer, its tangents, adjoints and second-order terms are all of this form
    (symnet.layered.whole_layer)."""
    scalars: tuple       # ((Symbol, "sum" or "max" or "once", expression), ...)
    statements: tuple    # ((Operand or Symbol, expression), ...)
    size: int
    arguments: tuple     # ((symbol, Operand), ...)


@dataclass(frozen=True)
class Scale:
    """out = source·slope along the unit axis (a tangent or an adjoint through an
    element-wise transfer function)."""
    out: Operand
    size: int
    source: Operand
    slope: Operand


@dataclass(frozen=True)
class SecondOrder:
    """Tangent of an adjoint through an element-wise transfer function, for the Hessian:
    out = adjoint_tangent·slope + adjoint·curvature·tangent(dn/dx) (either term may be absent)."""
    out: Operand
    size: int
    adjoint_tangent: Optional[Operand]
    adjoint: Optional[Operand]
    tangent: Operand
    slope: Optional[Operand]
    curvature: Optional[Operand]


@dataclass(frozen=True)
class OuterSum:
    """The Hessian of a network whose varying layers are all element-wise, as a sum of
    outer products: out[o, k, m] = Σ_terms Σ_u weight[o, u]·tangent[k, u]·tangent[m, u],
    where a term's weight is dy/da ∘ f''(n) of one layer and its tangent dn/dx.  Exactly
    symmetric in k and m (no Symmetrize step follows): an emitter computes m >= k and
    mirrors, or mirrors whatever product it computes."""
    out: Operand
    size: int            # the number of inputs (of k and of m)
    terms: tuple         # ((weight Operand ("out", "u"), tangent Operand ("in", "u"), units), ...)


@dataclass(frozen=True)
class Gather:
    """out[..., rows[i]] = source[..., units[i]]·scale[i] + shift[i] for each block; every
    other row is ``fill`` (row, value).  ``transposed``: out's row axis comes before the
    source's lead axis (a Jacobian from tangents)."""
    out: Operand
    size: int
    blocks: tuple        # ((source Operand, rows, units, scale name or None, shift name or None), ...)
    fill: tuple
    transposed: bool


@dataclass(frozen=True)
class Symmetrize:
    """out[..., k, m] = out[..., m, k] for m < k over the two "in" axes: the upper triangle
    mirrored, exact symmetry of the Hessian (its product may compute only that triangle,
    Linear.upper)."""
    out: Operand


@dataclass(frozen=True)
class OutputMap:
    """The closing step of a network with output maps u = E(x, y) (symnet.ir.output_map):
    ``out`` starts as a copy of ``source`` (y's value, Jacobian or Hessian, the same
    axes), then each entry ``(targets, expression)`` sets the elements at ``targets``
    (index tuples: row, then input indices) to the expression.  Expressions are written
    in the symbols of ``map_symbols(row)``: the raw inputs x_k (elements of ``inputs``),
    y (``value[row]``), dy_k (``jacobian[row, k]``) and ddy_k_m (``hessian[row, k, m]``),
    so that J_u = dE/dx + dE/dy J_y and the Hessian's product and chain rule are already
    written out, and every language prints them with its own printer.

    A user expression's value, gradient or Hessian (symnet.layered.expression) is this step
    with no ``source`` (every element is an entry's) and its own ``elements``:
    ((symbol, operand, index tuple), ...), the scalars its entries read in place of
    ``map_symbols``' (the outputs' partial derivatives, the parameters)."""
    out: Operand
    size: int
    source: Optional[Operand]
    inputs: Operand
    value: Optional[Operand]       # None where no entry reads y (nor dy, ddy below)
    jacobian: Optional[Operand]
    hessian: Optional[Operand]
    entries: tuple       # (((row, ...), ...), expression), ...)
    n_inputs: int
    elements: tuple = ()


def map_symbols(n_inputs):
    """(x_k symbols, y, dy_k symbols, {(k, m): ddy_k_m}) of OutputMap expressions."""
    from ..ir.output_map import Y, raw_input_symbols
    dy = tuple(sp.Symbol(f"dy_{k}", real=True) for k in range(n_inputs))
    ddy = {(k, m): sp.Symbol(f"ddy_{k}_{m}", real=True) for k in range(n_inputs) for m in range(n_inputs)}
    return raw_input_symbols(n_inputs), Y, dy, ddy


def output_map_elements(step, row):
    """{symbol: (operand, index tuple)} of the elements an entry of ``row`` reads."""
    if step.elements:
        return {symbol: (operand, index) for symbol, operand, index in step.elements}
    xs, y, dy, ddy = map_symbols(step.n_inputs)
    elements = {x: (step.inputs, (k,)) for k, x in enumerate(xs)}
    if step.value is not None:
        elements[y] = (step.value, (row,))
    if step.jacobian is not None:
        elements.update({symbol: (step.jacobian, (row, k)) for k, symbol in enumerate(dy)})
    if step.hessian is not None:
        elements.update({symbol: (step.hessian, (row,) + pair) for pair, symbol in ddy.items()})
    return elements


#: The steps that hold per-unit statements (and may write several arrays).
PER_UNIT = (Elementwise, Reduction)

#: Every kind of step, in the order a program may hold them; a layered emitter has one
#: method per kind, named after the class in lower case (symnet.emit.layered_emitter).
STEP_TYPES = (Shift, Linear, Elementwise, Reduction, Scale, SecondOrder, OuterSum, Gather, Symmetrize, OutputMap)
STEP_KINDS = tuple(step_type.__name__.lower() for step_type in STEP_TYPES)


@dataclass(frozen=True)
class LayeredProgram:
    what: str
    shape: tuple         # per-point shape of the result
    steps: tuple
    constants: tuple     # ((name, numpy array), ...)
    result: Operand
    arrays: tuple        # ((Operand, per-point shape), ...) of every variable, in order of creation


def written(steps):
    names = set()
    for step in steps:
        names |= {out.name for out, _ in step.assignments} if isinstance(step, PER_UNIT) else {step.out.name}
    return names


def reads(step):
    """The operands a step reads (weights are named by ``_weight_names``)."""
    operands = []
    for field in dataclasses.fields(step):
        value = getattr(step, field.name)
        if field.name != "out" and isinstance(value, Operand):
            operands.append(value)
    if isinstance(step, Linear):
        operands += [term.source for term in step.terms]
        operands += [term.scale for term in step.terms if term.scale is not None]
    if isinstance(step, PER_UNIT):
        outs = {out.name for out, _ in step.assignments}
        operands += [operand for _, operand in step.arguments if operand.name not in outs]
    if isinstance(step, Gather):
        operands += [block[0] for block in step.blocks]
    if isinstance(step, OuterSum):
        operands += [operand for weight, tangent, _ in step.terms for operand in (weight, tangent)]
    if isinstance(step, Symmetrize):
        operands.append(step.out)
    if isinstance(step, OutputMap):
        operands += [operand for _, operand, _ in step.elements]
    return operands


def weight_names(steps):
    names = {step.offset for step in steps if isinstance(step, Shift)}
    for step in steps:
        if isinstance(step, Linear):
            names |= {term.weights for term in step.terms}
        if isinstance(step, Gather):
            names |= {name for block in step.blocks for name in block[3:] if name is not None}
    return names


def constant_names(steps):
    """Names of the constants the steps read as whole arrays (input offsets and constant
    operands), in order of first use; the weights of products are ``weight_names``."""
    names = []
    for step in steps:
        if isinstance(step, Shift):
            names.append(step.offset)
        names += [operand.name for operand in reads(step) if operand.constant]
    return list(dict.fromkeys(names))


def without_unread_temporaries(statements):
    """Element-wise statements without the temporaries that no later statement reads."""
    kept, read = [], set()
    for target, expression in reversed(statements):
        if isinstance(target, Operand) or target in read:
            kept.append((target, expression))
            read |= sp.sympify(expression).free_symbols
    return kept[::-1]


def live_steps(steps, result):
    """The steps (and outputs of element-wise steps) the result depends on, in their order."""
    needed, live = {result.name}, []
    for step in reversed(steps):
        if isinstance(step, PER_UNIT):
            step = _needed_outputs(step, needed)
            if step is None:
                continue
        elif step.out.name not in needed:
            continue
        live.append(step)
        needed |= {operand.name for operand in reads(step)}
    return tuple(reversed(live))


def _needed_outputs(step, needed):
    """The step with only the statements (and scalars) that needed outputs depend on, or None."""
    symbol_of = {operand.name: symbol for symbol, operand in step.arguments}
    keep, reads = [], set()
    for target, expression in reversed(step.statements):
        name = target.name
        if name in needed or symbol_of.get(name) in reads or (not isinstance(target, Operand) and target in reads):
            keep.append((target, expression))
            reads |= expression.free_symbols
    if not any(isinstance(target, Operand) for target, _ in keep):
        return None
    changes = {"statements": tuple(reversed(keep))}
    if isinstance(step, Reduction):
        scalars = []
        for symbol, operator, expression in reversed(step.scalars):
            if symbol in reads:
                scalars.append((symbol, operator, expression))
                reads |= sp.sympify(expression).free_symbols
        changes["scalars"] = tuple(reversed(scalars))
    arguments = tuple((symbol, operand) for symbol, operand in step.arguments if symbol in reads)
    return dataclasses.replace(step, arguments=arguments, **changes)
