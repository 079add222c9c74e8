"""30-digit references of the derivatives beyond the whole arrays (symnet.ir.derivative_spec):
each is a sum of products of the high-precision Jacobian or Hessian
(symnet.reference.high_precision) with the direction, taken in mpmath before rounding:
J·v, wᵀ·J, H_i·v, the Hessian's trace, the Jacobian's trace, one entry."""

import mpmath
import numpy as np

from ..ir.derivative_spec import WHOLE, spec_of
from .high_precision import DIGITS, reference_numbers_of


def reference_values_with(net, whats, points, arguments, digits=DIGITS):
    """{what: (points,) + shape} rounded to doubles for every name in ``whats`` (whole arrays
    or not); ``arguments``: {"v": (points, n_inputs), "w": (points, n_outputs)}, the extra
    arguments of the directional derivatives at each point."""
    specs = [spec_of(what) for what in whats]
    needed = set(what for what in whats if what in WHOLE)
    needed |= {"jacobian" for spec in specs if spec.kind != "partial" and spec.order == 1 and spec.name not in WHOLE}
    needed |= {"jacobian" for spec in specs if spec.kind == "partial" and spec.order == 1}
    needed |= {"hessian" for spec in specs if spec.name not in WHOLE and spec.order == 2}
    if any(spec.kind == "partial" and spec.order > 2 for spec in specs):
        raise ValueError("the high-precision reference has derivatives up to order 2")
    order = ("value", "gradient", "jacobian", "hessian")
    with mpmath.workdps(digits):
        numbers = reference_numbers_of(net, tuple(w for w in order if w in needed), points, digits, "forward")
        results = {}
        for spec in specs:
            if spec.name in WHOLE:
                values = numbers[spec.name]
            else:
                values = _reduced(spec, numbers, arguments, len(points))
            results[spec.name] = np.array([float(x) for x in np.asarray(values).reshape(-1)],
                                          dtype=float).reshape(np.shape(values))
    return results


def _reduced(spec, numbers, arguments, count):
    """The mpf numbers of one directional derivative, (points,) + its shape."""
    J, H = numbers.get("jacobian"), numbers.get("hessian")
    v = None if "v" not in arguments else [[mpmath.mpf(float(e)) for e in row] for row in arguments["v"]]
    w = None if "w" not in arguments else [[mpmath.mpf(float(e)) for e in row] for row in arguments["w"]]
    out = []
    for p in range(count):
        if spec.kind == "jvp":
            out.append([mpmath.fsum(J[p, i, k] * v[p][k] for k in range(J.shape[2])) for i in range(J.shape[1])])
        elif spec.kind == "vjp":
            out.append([mpmath.fsum(J[p, i, k] * w[p][i] for i in range(J.shape[1])) for k in range(J.shape[2])])
        elif spec.kind == "hvp":
            n = H.shape[2]
            out.append([[mpmath.fsum(H[p, i, k, m] * v[p][m] for m in range(n)) for k in range(n)]
                        for i in range(H.shape[1])])
        elif spec.kind == "laplacian":
            out.append([mpmath.fsum(H[p, i, k, k] for k in range(H.shape[2])) for i in range(H.shape[1])])
        elif spec.kind == "divergence":
            out.append([mpmath.fsum(J[p, k, k] for k in range(J.shape[2]))])
        elif spec.order == 1:
            out.append([J[p, spec.output, spec.inputs[0]]])
        else:
            out.append([H[p, spec.output, spec.inputs[0], spec.inputs[1]]])
    return np.array(out, dtype=object)
