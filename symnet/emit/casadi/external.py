"""The ``casadi`` backend's renderer.

The network's code is the plain C target's, generated in double precision under the
name ``NAME_casadi`` (``NAME_casadi.h``/``.c``, row-major, one point per call).
``NAME_external.c`` wraps it in CasADi's external-function ABI: for each function CasADi
looks up, the evaluation entry point and its ``_n_in``, ``_n_out``, ``_name_in``,
``_name_out``, ``_sparsity_in``, ``_sparsity_out``, ``_work``, ``_incref``/``_decref``
and ``_checkout``/``_release``.  The functions and their signatures are CasADi's
(casadi/core/function_internal.cpp: ``jacobian``, ``forward``, ``reverse``;
casadi/core/external.cpp: the ``jac_``, ``fwd1_``, ``adj1_`` prefixes):

- ``NAME(x) -> y``
- ``jac_NAME(x, out_y) -> jac_y_x`` (the Jacobian, dense, column-major)
- ``fwd1_NAME(x, out_y, fwd_x) -> fwd_y`` and ``adj1_NAME(x, out_y, adj_y) -> adj_x``
- with the Hessian: ``jac_jac_NAME`` (Jacobian of jac_NAME), ``jac_fwd1_NAME`` and
  ``jac_adj1_NAME`` (Jacobians of the directional derivatives: CasADi differentiates
  whichever of them its AD chose, so each has its own Jacobian).

A derivative with respect to a nominal output is structurally zero (an empty pattern).
"""

import dataclasses

from ...errors import UnsupportedError
from ..c.unrolled import render_c
from ..common import FUNCTION_NAMES, grouped, render

#: derivative each kind of function needs beside the value
NEEDS = {"value": (), "jacobian": ("jacobian",), "forward": ("jacobian",), "reverse": ("jacobian",),
         "jacobian_of_jacobian": ("jacobian", "hessian"), "jacobian_of_forward": ("jacobian", "hessian"),
         "jacobian_of_reverse": ("jacobian", "hessian")}


def dense(rows, cols):
    """CasADi's compressed column pattern of a dense rows x cols matrix, written out
    in full (acados reads the patterns itself and does not know CasADi's dense shorthand)."""
    return [rows, cols] + [c * rows for c in range(cols + 1)] + list(range(rows)) * cols


def empty(rows, cols):
    return [rows, cols] + [0] * (cols + 1)


def signatures(n, m):
    """(prefix, kind, inputs, outputs) of every function; inputs and outputs are
    (name, pattern).  n inputs, m outputs of the network."""
    x, y = ("x", dense(n, 1)), ("out_y", dense(m, 1))
    return (
        ("", "value", (("x", dense(n, 1)),), (("y", dense(m, 1)),)),
        ("jac_", "jacobian", (x, y), (("jac_y_x", dense(m, n)),)),
        ("fwd1_", "forward", (x, y, ("fwd_x", dense(n, 1))), (("fwd_y", dense(m, 1)),)),
        ("adj1_", "reverse", (x, y, ("adj_y", dense(m, 1))), (("adj_x", dense(n, 1)),)),
        ("jac_jac_", "jacobian_of_jacobian", (x, y, ("out_jac_y_x", dense(m, n))),
         (("jac_jac_y_x_x", dense(m * n, n)), ("jac_jac_y_x_out_y", empty(m * n, m)))),
        ("jac_fwd1_", "jacobian_of_forward", (x, y, ("fwd_x", dense(n, 1)), ("out_fwd_y", dense(m, 1))),
         (("jac_fwd_y_x", dense(m, n)), ("jac_fwd_y_out_y", empty(m, m)), ("jac_fwd_y_fwd_x", dense(m, n)))),
        ("jac_adj1_", "jacobian_of_reverse", (x, y, ("adj_y", dense(m, 1)), ("out_adj_x", dense(n, 1))),
         (("jac_adj_x_x", dense(n, n)), ("jac_adj_x_out_y", empty(n, m)), ("jac_adj_x_adj_y", dense(n, m)))),
    )


def available(derivatives, n_outputs):
    """The derivatives the external can serve: the Jacobian also from the gradient of a
    single output (the same numbers in either layout)."""
    have = set(derivatives)
    if "gradient" in have and n_outputs == 1:
        have.add("jacobian")
    return have


def function_data(name, n, m, derivatives):
    have = available(derivatives, m)
    functions = []
    for prefix, kind, inputs, outputs in signatures(n, m):
        if not set(NEEDS[kind]) <= have:
            continue
        functions.append({
            "name": f"{prefix}{name}",
            "kind": kind,
            "body": f"casadi/{kind}.c.j2",
            "inputs": [{"name": label, "pattern": grouped([str(v) for v in pattern])} for label, pattern in inputs],
            "outputs": [{"name": label, "pattern": grouped([str(v) for v in pattern])}
                        for label, pattern in outputs],
        })
    return functions


def render_casadi(request):
    if "value" not in request.derivatives:
        raise UnsupportedError("the casadi target needs the value: add value to the derivatives")
    core = f"{request.name}_casadi"
    files = render_c(dataclasses.replace(request, name=core, precision="double"))
    net = request.network
    n, m = net.n_inputs, net.n_outputs
    have = available(request.derivatives, m)
    context = {
        "name": request.name, "core": core, "core_macro": core.upper(), "header": request.header,
        "n": n, "m": m, "functions": function_data(request.name, n, m, request.derivatives),
        "value": f"{core}_{FUNCTION_NAMES['value']}",
        "jacobian": f"{core}_{FUNCTION_NAMES['jacobian' if 'jacobian' in request.derivatives else 'gradient']}",
        "has_jacobian": "jacobian" in have,
        "same_layout": n == 1 or m == 1,
        "hessian": f"{core}_{FUNCTION_NAMES['hessian']}" if "hessian" in have else "",
        "work": n + (m * n if "jacobian" in have else 0) + (m * n * n if "hessian" in have else 0),
    }
    files[f"{request.name}_external.c"] = render("casadi/external.c.j2", **context)
    return files
