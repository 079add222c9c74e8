"""Every backend of the benchmark as (label, check function, timing function).

A backend is built once; ``jacobian(X)`` returns its Jacobians at the points X
(n, n_out, n_in), one array per mode and ``time()`` returns (ns per point for one point per call,
ns per point in a batch call) — None where the backend has no such mode.
"""

import importlib.util
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import symnet
from symnet.emit import target_names

import cbuild
import hand
import nets
import others
import timing

#: Slow backends are timed in batch mode on fewer points (their batch is a loop anyway).
SMALL_BATCH = 200


@dataclass
class Backend:
    label: str
    group: str
    jacobian: Callable                  # X -> [(n, n_out, n_in) per mode: one point per call, batch]
    times: Callable                     # () -> (single ns, batch ns)
    notes: dict = field(default_factory=dict)


def import_module(path, name):
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def c_backend(label, group, net, build, sources, flags, points, transpose=False, include=()):
    """A C backend through the harness; ``points`` = (file with all points, small file, count, small count)."""
    start = time.perf_counter()
    program = cbuild.compile_program(build, sources, flags, label.replace(" ", "_").replace("/", "_"),
                                     include=(build, *include))
    compile_seconds = time.perf_counter() - start

    def jacobian(X):
        path = build / f"check_{program.name}.bin"
        np.ascontiguousarray(X).tofile(path)
        single, batch = cbuild.run_check(program, path, len(X), net.n_outputs, net.n_inputs, build, transpose)
        return [single, batch]

    def times():
        single, batch = cbuild.run_time(program, points[0], 0.2)
        if single > 20000:   # slow: time the batch on fewer points
            _, batch = cbuild.run_time(program, points[1], 0.2)
        return single, batch

    return Backend(label, group, jacobian, times, {"compile_s": compile_seconds})


def python_backend(label, group, single, batch, X, small=False):
    def times():
        one = timing.best_seconds(single, X[0]) * 1e9 if single else None
        points = X[:SMALL_BATCH] if small else X
        many = timing.best_seconds(batch, points) * 1e9 / len(points) if batch else None
        return one, many
    def jacobian(Z):
        return ([np.array([single(z) for z in Z])] if single else []) + ([batch(Z)] if batch else [])
    return Backend(label, group, jacobian, times)


def hand_backends(net, build, points):
    sources = hand.hand_sources(net, build)
    return [c_backend("hand C -O3 native", "hand", net, build, sources, "O3native", points),
            c_backend("hand C -O3 native fast-math", "hand", net, build, sources, "O3native-fastmath", points)]


def symnet_c_backends(net, build, strategy, points, flag_sets=("O2", "O3native", "O3native-fastmath")):
    if "c" not in target_names():
        return []
    folder = build / f"symnet_c_{strategy}"
    symnet.generate(net, ["c"], folder, derivatives=["jacobian"], name="model", strategy=strategy)
    glue = cbuild.adapter(folder, "symnet", net.n_inputs, net.n_outputs, "model_jacobian(x, jac);",
                          "model_jacobian_batch(n, x, jac);", '#include "model.h"')
    return [c_backend(f"symnet C {strategy} {flags}", f"symnet C {strategy}", net, folder,
                      [folder / "model.c", glue], flags, points, include=(folder,))
            for flags in flag_sets]


def symnet_numpy_backend(net, build, strategy, X):
    folder = build / f"symnet_numpy_{strategy}"
    symnet.generate(net, ["numpy"], folder, derivatives=["jacobian"], name="model", strategy=strategy)
    module = import_module(folder / "model_numpy.py", f"bench_numpy_{strategy}_{net.name}")
    return python_backend(f"symnet NumPy {strategy}", "symnet NumPy", module.jacobian, module.jacobian, X)


def casadi_backend(net, build, kind, points):
    sources, seconds = others.casadi_sources(net, build, kind)
    backend = c_backend(f"CasADi {kind} C -O3 native", "CasADi", net, build, sources, "O3native", points,
                        transpose=True)
    backend.notes["generate_s"] = seconds
    return backend


def jax_backend(net, X):
    single, batch = others.jax_functions(net)
    return python_backend("jax.jit(jacrev)", "JAX", single, batch, X)


def torch_backend(net, X):
    single, batch = others.torch_functions(net)
    return python_backend("torch.func.jacrev", "PyTorch", single, batch, X)


def hand_numpy_backend(net, X):
    function = nets.hand_numpy_jacobian(net)
    return python_backend("hand NumPy (vectorized)", "hand", lambda x: function(x[None])[0], function, X)
