"""30-digit references of the derivatives beyond the whole arrays (symnet.ir.derivative_spec):
each is a sum of products of the high-precision Jacobian or Hessian
(symnet.reference.high_precision) with the direction, taken in mpmath before rounding:
J·v, wᵀ·J, H_i·v, the Hessian's trace, the Jacobian's trace, one entry.  A partial
derivative of order 3 or more is a nested central difference of the Hessian entry, with
steps of 10^-digits/2 at three times the digits: its truncation error is about 10^-digits
relative, its rounding error smaller still for orders up to 6."""

import mpmath
import numpy as np

from ..ir.derivative_spec import WHOLE, spec_of
from .high_precision import DIGITS, Layout, _symmetric, forward, reference_numbers_of


def reference_values_with(net, whats, points, arguments, digits=DIGITS):
    """{what: (points,) + shape} rounded to doubles for every name in ``whats`` (whole arrays
    or not); ``arguments``: {"v": (points, n_inputs), "w": (points, n_outputs)}, the extra
    arguments of the directional derivatives at each point."""
    specs = [spec_of(what) for what in whats]
    needed = set(what for what in whats if what in WHOLE)
    needed |= {"jacobian" for spec in specs if spec.kind != "partial" and spec.order == 1 and spec.name not in WHOLE}
    needed |= {"jacobian" for spec in specs if spec.kind == "partial" and spec.order == 1}
    needed |= {"hessian" for spec in specs if spec.name not in WHOLE and spec.order == 2}
    order = ("value", "gradient", "jacobian", "hessian")
    with mpmath.workdps(digits):
        wholes = tuple(w for w in order if w in needed)
        numbers = reference_numbers_of(net, wholes, points, digits, "forward") if wholes else {}
        results = {}
        for spec in specs:
            if spec.name in WHOLE:
                values = numbers[spec.name]
            elif spec.kind == "partial" and spec.order > 2:
                values = _higher_partial(net, spec, points, digits)
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


def _higher_partial(net, spec, points, digits):
    """(points, 1) mpf: ∂^p y_i/∂x_k1..∂x_kp as central differences over k3..kp of the
    high-precision Hessian entry (i, k1, k2)."""
    i, (k1, k2, *rest) = spec.output, spec.inputs
    layout = Layout(net.n_inputs, 2)
    with mpmath.workdps(3 * digits):
        step = mpmath.mpf(10) ** (-(digits // 2))
        base = np.array([[mpmath.mpf(float(v)) for v in row] for row in points], dtype=object)

        def entry(shift):
            outputs = forward(net, base + shift, 2)
            hessian = _symmetric(outputs.transpose(1, 0, 2)[:, :, layout.second], layout)
            return hessian[:, i, k1, k2]

        def differenced(directions, shift):
            if not directions:
                return entry(shift)
            k, others = directions[0], directions[1:]
            unit = np.zeros(net.n_inputs, dtype=object)
            unit[:] = mpmath.mpf(0)
            unit[k] = step
            return (differenced(others, shift + unit) - differenced(others, shift - unit)) / (2 * step)

        zero = np.array([mpmath.mpf(0)] * net.n_inputs, dtype=object)
        values = differenced(rest, zero)
        return np.array([[+v] for v in values], dtype=object)
