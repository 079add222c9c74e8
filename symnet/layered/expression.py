"""Layered derive stage for a user expression (symnet.ir.expression_spec): its value,
gradient or Hessian with respect to the raw inputs, without unrolling the network.

The quantities the expression reads (the outputs y_i and their partial derivatives) and
their derivatives with respect to the raw inputs, as far as the gradient or the Hessian
needs them, are all partial derivatives of the outputs: one forward Taylor ("jet") sweep
(symnet.layered.directional) builds one vector per layer for each of their multi-indices,
and each is gathered into the outputs' rows.  The expression and its derivatives are then
small sympy expressions over those scalars and the parameters, the chain rule written out:

    dE/dx_k = Σ_q ∂E/∂q · q_k
    d²E/dx_k dx_m = Σ_q Σ_r ∂²E/∂q∂r · q_k · r_m + Σ_q ∂E/∂q · q_km

(q_k: q differentiated once more by x_k, one order higher), in one closing OutputMap step
whose ``elements`` name the scalars, so that every target prints them with its own printer.
The parameters are extra arguments of the generated functions, as in the unrolled form.
"""

import sympy as sp

from ..ir.expression_spec import EXPRESSION_DERIVATIVES, parameter_symbols
from ..ir.user_expression import Quantity
from .steps import TANGENT, VECTOR, Operand, OutputMap


def build_expression(builder, sweeps, spec, label):
    """(result operand, shape) of ``spec`` (an ExpressionSpec), its steps appended to
    ``builder``; ``sweeps``: directional._Sweeps, whose ``jets`` and ``gather`` it uses;
    ``label(alpha)``: the part of a name naming a multi-index."""
    net = builder.net
    n_inputs = net.n_inputs
    order = EXPRESSION_DERIVATIVES.index(spec.what)
    quantities = spec.user.quantities
    expression = sp.sympify(spec.user.expression)
    entries = _entries(expression, quantities, order, n_inputs)
    read = set().union(*(e.free_symbols for _, e in entries))
    needed = sorted({(output, alpha) for output, alpha in _symbols(quantities, order, n_inputs)
                     if Quantity(output, alpha).symbol in read}, key=lambda p: (len(p[1]), p[1], p[0]))
    alphas = sorted({alpha for _, alpha in needed}, key=lambda alpha: (len(alpha), alpha))
    jets = sweeps.jets([alpha for alpha in alphas if alpha]) if any(alphas) else {}
    rows = {alpha: builder.gather_values() if not alpha else sweeps.gather(jets[alpha], f"jet_{label(alpha)}")
            for alpha in alphas}
    elements = [(Quantity(output, alpha).symbol, rows[alpha], (output,)) for output, alpha in needed]
    for name, symbols in parameter_symbols(spec):
        elements += [(symbol, Operand(name, VECTOR), (j,)) for j, symbol in enumerate(symbols) if symbol in read]
    axes, size = (TANGENT, n_inputs) if spec.what == "hessian" else (VECTOR, 1 if order == 0 else n_inputs)
    out = builder.variable(f"e{order}", axes, size)
    builder.steps.append(OutputMap(out, size, None, Operand("x", VECTOR), None, None, None, tuple(entries),
                                   n_inputs, tuple(elements)))
    return out, spec.shape(n_inputs, net.n_outputs)


def _symbols(quantities, order, n_inputs):
    """(output, multi-index) of every scalar the entries may read: each quantity
    differentiated by up to ``order`` more inputs."""
    found = set()
    for q in quantities:
        found.add((q.output, tuple(q.inputs)))
        for k in range(n_inputs if order else 0):
            found.add((q.output, _more(q, k)))
            for m in range(k, n_inputs if order > 1 else 0):
                found.add((q.output, _more(q, k, m)))
    return found


def _more(q, *inputs):
    return tuple(sorted(tuple(q.inputs) + inputs))


def _entries(expression, quantities, order, n_inputs):
    """((targets, expression), ...) of the value (row 0), the gradient (row k) or the Hessian
    (k, m), upper triangle mirrored: the chain rule over the quantities' symbols."""
    if order == 0:
        return [(((0,),), expression)]
    first = {q: sp.diff(expression, q.symbol) for q in quantities}

    def along(q, *inputs):
        return Quantity(q.output, _more(q, *inputs)).symbol
    if order == 1:
        return [(((k,),), sp.Add(*(first[q] * along(q, k) for q in quantities))) for k in range(n_inputs)]
    second = {(q, r): sp.diff(first[q], r.symbol) for q in quantities for r in quantities}
    entries = []
    for k in range(n_inputs):
        for m in range(k, n_inputs):
            total = sp.Add(*(second[q, r] * along(q, k) * along(r, m) for q in quantities for r in quantities),
                           *(first[q] * along(q, k, m) for q in quantities))
            entries.append((((k, m),) if k == m else ((k, m), (m, k)), total))
    return entries
