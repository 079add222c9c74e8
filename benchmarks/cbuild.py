"""Compiling and running C backends through the shared timing harness."""

import subprocess
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CC = "gcc"
FLAGS = {
    "O2": ["-O2"],
    "O3native": ["-O3", "-march=native"],
    "O3native-fastmath": ["-O3", "-march=native", "-ffast-math"],
}
EIGEN = Path("/usr/include/eigen3")


def flag_list(flags):
    """gcc options: ``flags`` a key of FLAGS, or a list of options as it is."""
    return FLAGS[flags] if isinstance(flags, str) else list(flags)


def c_literal(value):
    text = repr(float(value))
    return text if any(c in text for c in ".en") else text + ".0"


def c_array(name, values, ctype="double"):
    values = np.asarray(values).reshape(-1)
    body = ", ".join(c_literal(v) if ctype == "double" else str(int(v)) for v in values)
    return f"static const {ctype} {name}[{max(values.size, 1)}] = {{{body}}};\n"


def compile_program(build, sources, flags, output, include=()):
    """Compile ``sources`` with the harness into ``build/output``; returns the path."""
    path = build / output
    command = [CC, "-std=c99", *flag_list(flags), *[f"-I{d}" for d in include], "-o", str(path),
               str(HERE / "harness.c"), *[str(s) for s in sources], "-lm"]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return path


def run_check(program, points_file, n_points, n_out, n_in, build, transpose=False):
    """(single-call Jacobians, batch Jacobians), each (n_points, n_out, n_in)."""
    out = build / (program.name + ".jac")
    subprocess.run([str(program), "check", str(points_file), str(out)], check=True)
    data = np.fromfile(out, dtype=float).reshape(2, n_points, -1)
    if transpose:   # column-major (CasADi)
        return tuple(d.reshape(n_points, n_in, n_out).transpose(0, 2, 1) for d in data)
    return tuple(d.reshape(n_points, n_out, n_in) for d in data)


def run_time(program, points_file, budget=0.3, batch=True):
    """(ns per point of single calls, ns per point of one batch call; None without ``batch``)."""
    text = subprocess.run([str(program), "time", str(points_file), str(budget), *([] if batch else ["single"])],
                          check=True, capture_output=True, text=True).stdout
    values = dict(line.split() for line in text.splitlines())
    return float(values["single_ns"]), float(values["batch_ns"]) if batch else None


def compile_harness(folder, c_sources, cxx_sources, flags, limit):
    """The harness linked with the C and C++ (Eigen) sources, each compiled with ``flags``
    within ``limit`` seconds (subprocess.TimeoutExpired past it); (program, seconds)."""
    start = time.perf_counter()
    options, objects = flag_list(flags), []
    for source in [HERE / "harness.c", *c_sources]:
        objects.append(folder / (Path(source).stem + ".o"))
        subprocess.run([CC, "-std=c99", *options, f"-I{folder}", "-c", str(source), "-o", str(objects[-1])],
                       check=True, capture_output=True, text=True, timeout=limit)
    for source in cxx_sources:
        objects.append(folder / (Path(source).stem + ".o"))
        subprocess.run(["g++", "-std=c++14", *options, f"-I{folder}", f"-I{EIGEN}", "-c", str(source),
                        "-o", str(objects[-1])], check=True, capture_output=True, text=True,
                       timeout=max(1.0, limit - (time.perf_counter() - start)))
    program = folder / "bench"
    subprocess.run(["g++" if cxx_sources else CC, *options, "-o", str(program), *map(str, objects), "-lm"],
                   check=True, capture_output=True, text=True)
    return program, time.perf_counter() - start


def symnet_program(net, folder, what, activations, flags, limit=600):
    """symnet's layered C for derivative ``what`` ("jacobian" or "hessian") of ``net`` with
    ``activations``, around the harness (a Hessian as n_in rows of n_out·n_in numbers per
    point); (program, seconds to generate, seconds to compile)."""
    import symnet
    start = time.perf_counter()
    symnet.generate(net, ["c"], folder, derivatives=[what], name="model", strategy="layered",
                    activations=activations)
    generated = time.perf_counter() - start
    width = net.n_outputs * (net.n_inputs if what == "hessian" else 1)
    glue = adapter(folder, what, net.n_inputs, width, f"model_{what}(x, jac);", f"model_{what}_batch(n, x, jac);",
                   '#include "model.h"')
    program, compiled = compile_harness(folder, [folder / "model.c", glue], [], flags, limit)
    return program, generated, compiled


def adapter(build, name, n_in, n_out, single, batch, declarations=""):
    """A file defining the harness entry points by calling ``single``/``batch`` (C statements)."""
    path = build / f"adapter_{name}.c"
    path.write_text(f"""#include <stddef.h>
{declarations}
const int BENCH_N_IN = {n_in}, BENCH_N_OUT = {n_out};
void bench_jacobian(const double *x, double *jac) {{ {single} }}
void bench_jacobian_batch(size_t n, const double *x, double *jac) {{ {batch} }}
""")
    return path


def shared_library(build, sources, flags, name="libmodel.so"):
    """Compile ``sources`` into a shared library ``build/name`` (``flags``: a key of FLAGS
    or a list of gcc options); returns the path."""
    path = build / name
    subprocess.run([CC, "-std=c99", *flag_list(flags), "-shared", "-fPIC", "-o", str(path), *map(str, sources), "-lm"],
                   check=True, capture_output=True, text=True)
    return path
