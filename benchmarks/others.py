"""The other tools: CasADi-generated C, jax.jit(jacrev) and torch.func.jacrev.

Each builds the same function y(x) (mapminmax, tanh layers, linear layer,
reverse mapminmax) from the network's arrays and differentiates it itself.
"""

import os
import time

import numpy as np

from cbuild import adapter
from nets import parts


def casadi_outputs(net, kind):
    """(x, y(x)) of the network in CasADi symbols (SX: scalar graph, MX: matrix graph)."""
    import casadi as ca
    x_offset, x_gain, x_ymin, layers, y_offset, y_gain, y_ymin = parts(net)
    x = (ca.SX if kind == "SX" else ca.MX).sym("x", net.n_inputs)
    a = (x - ca.DM(x_offset)) * ca.DM(x_gain) + x_ymin
    for w, b in layers[:-1]:
        a = ca.tanh(ca.mtimes(ca.DM(w), a) + ca.DM(b))
    w, b = layers[-1]
    return x, (ca.mtimes(ca.DM(w), a) + ca.DM(b) - y_ymin) / ca.DM(y_gain) + ca.DM(y_offset)


def casadi_generate(function, name, build):
    """Generate the C of the CasADi ``function`` as ``build/name.c`` (with its header); the C
    declarations of a one-point wrapper ``call(x, out)`` around it, its work arrays static."""
    import casadi as ca
    generator = ca.CodeGenerator(f"{name}.c", {"with_header": True})
    generator.add(function)
    generator.generate(str(build) + os.sep)
    return (f'#include "{name}.h"\n'
            f"static casadi_int iw[{function.sz_iw() + 1}];\nstatic casadi_real w[{function.sz_w() + 1}];\n"
            f"static void call(const double *x, double *out) {{\n"
            f"    const casadi_real *arg[{function.sz_arg()}] = {{x}};\n"
            f"    casadi_real *res[{function.sz_res()}] = {{out}};\n"
            f"    {name}(arg, res, iw, w, 0);\n}}")


def casadi_sources(net, build, kind):
    """Generate CasADi C for the dense Jacobian (SX: scalar graph, MX: matrix graph)."""
    import casadi as ca
    x, y = casadi_outputs(net, kind)
    name = f"casadi_{kind.lower()}"
    function = ca.Function(name, [x], [ca.densify(ca.jacobian(y, x))])
    start = time.perf_counter()
    declarations = casadi_generate(function, name, build)
    seconds = time.perf_counter() - start
    size = net.n_inputs * net.n_outputs
    glue = adapter(build, name, net.n_inputs, net.n_outputs, "call(x, jac);",
                   f"size_t s; for (s = 0; s < n; ++s) call(x + s * {net.n_inputs}, jac + s * {size});",
                   declarations)
    return [build / f"{name}.c", glue], seconds


def raw_outputs(net, array, tanh):
    """f(x): the raw outputs of an mlp() at raw inputs x, with the framework's ``array``
    (applied to every vector and matrix) and ``tanh``, for its autodiff."""
    x_offset, x_gain, x_ymin, layers, y_offset, y_gain, y_ymin = parts(net)
    x_offset, x_gain, y_offset, y_gain = map(array, (x_offset, x_gain, y_offset, y_gain))
    layers = [(array(w), array(b)) for w, b in layers]

    def f(x):
        a = (x - x_offset) * x_gain + x_ymin
        for w, b in layers[:-1]:
            a = tanh(w @ a + b)
        w, b = layers[-1]
        return (w @ a + b - y_ymin) / y_gain + y_offset
    return f


def jax_functions(net):
    """(jit(jacrev(f)) for one point, jit(vmap(jacrev(f))) for a batch), float64 on the CPU."""
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    f = raw_outputs(net, jnp.asarray, jnp.tanh)
    single, batch = jax.jit(jax.jacrev(f)), jax.jit(jax.vmap(jax.jacrev(f)))
    return (lambda x: np.asarray(single(x).block_until_ready()),
            lambda X: np.asarray(batch(X).block_until_ready()))


def torch_functions(net):
    """(torch.func.jacrev(f) for one point, vmap of it for a batch), float64."""
    import torch
    from torch.func import jacrev, vmap
    torch.set_num_threads(1)
    tensor = lambda v: torch.tensor(np.array(v))   # noqa: E731 (a writable copy)
    f = raw_outputs(net, tensor, torch.tanh)
    single, batch = jacrev(f), vmap(jacrev(f))
    return (lambda x: single(torch.as_tensor(x)).numpy(), lambda X: batch(torch.as_tensor(X)).numpy())
