"""30-digit references of a user expression's value, gradient and Hessian with respect to
the raw inputs (symnet.ir.expression_spec), for the self-check vectors.

Independent of the symbolic, derive and simplify stages: every partial derivative of the
outputs the chain rule needs is a reference of the derivative spec
(symnet.reference.directional: the high-precision forward evaluation of the network), and
the expression's own derivatives with respect to those quantities are sympy's of the parsed
formula, evaluated in mpmath:

    dE/dx_k       = Σ_q E_q ∂_k q
    d²E/dx_k dx_m = Σ_q Σ_r E_qr ∂_k q ∂_m r + Σ_q E_q ∂_km q.
"""

import mpmath
import numpy as np
import sympy as sp

from ..ir.derivative_spec import DerivativeSpec
from ..ir.expression_spec import parameter_symbols
from .directional import reference_values_with
from .high_precision import DIGITS


def expression_references(net, spec, points, arguments, digits=DIGITS):
    """(points,) + shape of ``spec`` at ``points``; ``arguments``: {parameter: (points, size)}."""
    n_in = net.n_inputs
    quantities = spec.user.quantities
    extensions = {"value": [()], "gradient": [(k,) for k in range(n_in)],
                  "hessian": [()] + [(k,) for k in range(n_in)]
                  + [(k, m) for k in range(n_in) for m in range(k, n_in)]}[spec.what]
    names = {}
    for q in quantities:
        for extra in [()] + extensions:
            inputs = tuple(sorted(q.inputs + extra))
            names[(q, extra)] = "value" if not inputs else DerivativeSpec("partial", q.output, inputs).name
    values = reference_values_with(net, tuple(dict.fromkeys(names.values())), points, {}, digits)

    def column(q, extra, p):
        name = names[(q, extra)]
        return mpmath.mpf(float(values[name][p, q.output if name == "value" else 0]))

    symbols = [q.symbol for q in quantities] + [s for _, group in parameter_symbols(spec) for s in group]
    expression = sp.sympify(spec.user.expression)
    first = [sp.diff(expression, q.symbol) for q in quantities]
    second = [[sp.diff(d, r.symbol) for r in quantities] for d in first]
    functions = sp.lambdify(symbols, [expression, first, second], modules="mpmath")
    results = []
    with mpmath.workdps(digits):
        for p in range(len(points)):
            at = [column(q, (), p) for q in quantities]
            at += [mpmath.mpf(float(v)) for name, _ in spec.parameters for v in arguments[name][p]]
            value, slopes, curvatures = functions(*at)
            if spec.what == "value":
                results.append([value])
                continue
            D = [[column(q, (k,), p) for k in range(n_in)] for q in quantities]
            if spec.what == "gradient":
                results.append([mpmath.fsum(slopes[i] * D[i][k] for i in range(len(quantities)))
                                for k in range(n_in)])
                continue
            H = np.empty((n_in, n_in), dtype=object)
            for k in range(n_in):
                for m in range(k, n_in):
                    terms = [curvatures[i][j] * D[i][k] * D[j][m]
                             for i in range(len(quantities)) for j in range(len(quantities))]
                    terms += [slopes[i] * column(q, (k, m), p) for i, q in enumerate(quantities)]
                    H[k, m] = H[m, k] = mpmath.fsum(terms)
            results.append(H.tolist())
    return np.array([[float(v) for v in np.ravel(np.array(r, dtype=object))] for r in results],
                    dtype=float).reshape((len(points),) + spec.shape(n_in, net.n_outputs))
