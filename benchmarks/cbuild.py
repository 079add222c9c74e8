"""Compiling and running C backends through the shared timing harness."""

import subprocess
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CC = "gcc"
FLAGS = {
    "O2": ["-O2"],
    "O3native": ["-O3", "-march=native"],
    "O3native-fastmath": ["-O3", "-march=native", "-ffast-math"],
}


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
    command = [CC, "-std=c99", *FLAGS[flags], *[f"-I{d}" for d in include], "-o", str(path),
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


def run_time(program, points_file, budget=0.3):
    """(ns per point of single calls, ns per point of one batch call)."""
    text = subprocess.run([str(program), "time", str(points_file), str(budget)],
                          check=True, capture_output=True, text=True).stdout
    values = dict(line.split() for line in text.splitlines())
    return float(values["single_ns"]), float(values["batch_ns"])


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
