"""Benchmark: the full Hessian d²y/dx² of the four nets of nets.py in symnet's layered C
(exact and fast activations) against CasADi SX and MX (generated C), SymForce (generated
C++), jax.jit(hessian), torch.func.hessian and torch.compile of it, one point per call,
and in batches against jax.jit(vmap(hessian)) and torch's vmap.

Every generated baseline is compiled the same way (gcc/g++ with --flags, default -O2;
--native: -O3 -march=native) around the same timing harness (harness.c).  Generating a baseline (CasADi SX, SymForce)
or compiling it may take very long on the bigger nets: both run in a child process under
a time limit, and the table says "not built in N s" instead of waiting; a baseline past its
limit on one net is not tried on the bigger ones (the nets run smallest first).  Every backend's
Hessian is compared with an independent reference (JAX's, or symnet's NumPy reference
without JAX) at CHECK_POINTS points before it is timed; one that disagrees is refused
and never timed.

Timings are interleaved: each round times every backend once (in a rotated order), each
time taking the best of a few calls within --budget seconds; the table shows the median
over the rounds.  Only the times the table shows are taken (a generated baseline's batch,
a loop over its one-point function, is not: CasADi MX's takes 30 s a call on 20-256-256-10),
and a Python call that takes longer than --budget is timed once per round.  Ratios are to
symnet's exact layered C Hessian, one point per call, of the same net, from the same run.

    python benchmarks/hessian_table.py            # all four nets; 2.4 minutes of CPU time (13 of wall clock at load 11)
    python benchmarks/hessian_table.py --native   # the same with -O3 -march=native
    python benchmarks/hessian_table.py --quick    # 3-10-1, 5-20-20-3, 2-64-64-64-1; about 2 minutes

This is a measurement, not a test: it asserts nothing about speed.
"""

import os

import one_thread  # noqa: E402,F401  (one thread for every library, before numpy)

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Optional  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import symnet  # noqa: E402

import cbuild  # noqa: E402
import nets  # noqa: E402
import others  # noqa: E402
import timing  # noqa: E402

#: At most this many points in a batch of the Python baselines: torch's vmap(hessian) of
#: 20-256-256-10 takes about 9 ms and 10 MB a point, and is timed several times a round.
PYTHON_BATCH = 200
QUICK_NETS = ("3-10-1", "5-20-20-3", "2-64-64-64-1")
CHECK_POINTS = 8
#: Largest accepted error relative to the largest entry of the reference Hessian.
TOLERANCE = 1e-10
NATIVE = "-O3 -march=native"
# torch.compile warns about its own deprecated internals
warnings.filterwarnings("ignore", category=FutureWarning)


@dataclass
class Row:
    """One backend on one net: a way to evaluate it at points and a way to time it."""
    key: str
    evaluate: Optional[Callable] = None       # X -> list of Hessian arrays, one per mode it has
    times: Optional[Callable] = None          # budget -> (one point ns, batch ns per point), None where absent
    note: str = ""                            # why it is not timed ("not built in 60 s", ...)
    single: list = field(default_factory=list)
    batch: list = field(default_factory=list)
    build_s: Optional[float] = None
    error: Optional[float] = None


#: (key, label, which time) of the table's rows, in order.
TABLE_ROWS = [
    ("symnet-exact", "symnet C layered, exact", "single"),
    ("symnet-fast", "symnet C layered, fast activations", "single"),
    ("casadi-SX", "CasADi SX, generated C", "single"),
    ("casadi-MX", "CasADi MX, generated C", "single"),
    ("symforce", "SymForce, generated C++", "single"),
    ("jax", "jax.jit(hessian)", "single"),
    ("torch", "torch.func.hessian", "single"),
    ("torch-compile", "torch.compile(torch.func.hessian)", "single"),
    ("symnet-exact", "symnet C layered, exact, batch per point", "batch"),
    ("symnet-fast", "symnet C layered, fast, batch per point", "batch"),
    ("jax", "jax.jit(vmap(hessian)), per point", "batch"),
    ("torch", "torch.func vmap(hessian), per point", "batch"),
    ("torch-compile-vmap", "torch.compile(vmap(jacrev(jacrev))), per point", "batch"),
]
#: The rows whose batch time the table shows (the others' is not taken).
BATCH_KEYS = {key for key, _, which in TABLE_ROWS if which == "batch"}


# ---------------------------------------------------------------- generated baselines (child process)

def casadi_hessian(net, folder, kind):
    """CasADi C for the Hessian, laid out as symnet's: output, then row, then column."""
    import casadi as ca
    x, y = others.casadi_outputs(net, kind)
    # rows k + n_in*i of jacobian(vec(J^T), x) are d(dy_i/dx_k)/dx; CasADi stores column-major,
    # so its transpose is stored in symnet's row-major (i, k, j) order
    hessian = ca.jacobian(ca.vec(ca.jacobian(y, x).T), x).T
    name = f"casadi_{kind.lower()}"
    declarations = others.casadi_generate(ca.Function(name, [x], [ca.densify(hessian)]), name, folder)
    return {"c": [f"{name}.c", _loop_adapter(net, folder, name, declarations).name], "cxx": []}


def symforce_hessian(net, folder):
    """SymForce's C++ (Eigen) for the Hessian, from the same expression written in its symbols."""
    import symforce
    symforce.set_epsilon_to_symbol()
    import symforce.symbolic as sf
    from symforce import codegen
    from symforce.values import Values
    x_offset, x_gain, x_ymin, layers, y_offset, y_gain, y_ymin = nets.parts(net)
    x = sf.Matrix(net.n_inputs, 1).symbolic("x")
    a = sf.Matrix([(x[i] - x_offset[i]) * x_gain[i] + x_ymin for i in range(net.n_inputs)])
    for w, b in layers[:-1]:
        a = (sf.Matrix(w) * a + sf.Matrix(b)).applyfunc(sf.tanh)
    w, b = layers[-1]
    y = sf.Matrix(w) * a + sf.Matrix(b)
    y = sf.Matrix([(y[i] - y_ymin) / y_gain[i] + y_offset[i] for i in range(net.n_outputs)])
    jacobian = y.jacobian(x)
    hessian = sf.Matrix.block_matrix([[jacobian[i, :].T.jacobian(x)] for i in range(net.n_outputs)])
    generator = codegen.Codegen(inputs=Values(x=x), outputs=Values(hessian=hessian),
                                config=codegen.CppConfig(), name="sf_hessian")
    generator.generate_function(output_dir=str(folder), skip_directory_nesting=True)
    n, rows = net.n_inputs, net.n_outputs * net.n_inputs
    adapter = folder / "adapter_symforce.cc"
    adapter.write_text(f"""#include <cstddef>
#include "sf_hessian.h"
extern "C" {{
extern const int BENCH_N_IN, BENCH_N_OUT;
const int BENCH_N_IN = {n}, BENCH_N_OUT = {rows};
void bench_jacobian(const double *x, double *h);
void bench_jacobian_batch(std::size_t n, const double *x, double *h);
}}
typedef Eigen::Matrix<double, {rows}, {n}> Result;
void bench_jacobian(const double *x, double *h)
{{
    Result result;
    sym::SfHessian<double>(Eigen::Map<const Eigen::Matrix<double, {n}, 1>>(x), &result);
    Eigen::Map<Eigen::Matrix<double, {rows}, {n}, Eigen::RowMajor>> out(h);
    out = result;
}}
void bench_jacobian_batch(std::size_t n, const double *x, double *h)
{{
    for (std::size_t s = 0; s < n; ++s) bench_jacobian(x + s * {n}, h + s * {rows * n});
}}
""")
    return {"c": [], "cxx": [adapter.name]}


def _loop_adapter(net, folder, name, declarations):
    """The harness entry points for a one-point C function ``call`` (the batch loops over it)."""
    size = net.n_outputs * net.n_inputs * net.n_inputs
    return cbuild.adapter(folder, name, net.n_inputs, net.n_outputs * net.n_inputs, "call(x, jac);",
                          f"size_t s; for (s = 0; s < n; ++s) call(x + s * {net.n_inputs}, jac + s * {size});",
                          declarations)


def worker(kind, label, folder):
    """Child-process entry: generate ``kind``'s sources for net ``label`` into ``folder``."""
    folder = Path(folder)
    net = nets.mlp(label)
    if kind.startswith("torch"):
        return torch_probe(kind, net, nets.sample_points(net, nets.BATCH[label], seed=7))
    start = time.perf_counter()
    files = symforce_hessian(net, folder) if kind == "symforce" else casadi_hessian(net, folder, kind.split("-")[1])
    files["seconds"] = time.perf_counter() - start
    (folder / "files.json").write_text(json.dumps(files))


# ---------------------------------------------------------------- building

def c_row(key, net, folder, program, points_file, build_s):
    n_in, width = net.n_inputs, net.n_outputs * net.n_inputs

    def evaluate(X):
        path = folder / "check.bin"
        np.ascontiguousarray(X).tofile(path)
        return [h.reshape(len(X), -1) for h in cbuild.run_check(program, path, len(X), width, n_in, folder)]
    batch = key in BATCH_KEYS
    return Row(key, evaluate, lambda budget: cbuild.run_time(program, points_file, budget, batch), build_s=build_s)


def symnet_row(key, net, build, flags, activations, points_file):
    folder = build / key
    program, generated, compiled = cbuild.symnet_program(net, folder, "hessian", activations, flags)
    return c_row(key, net, folder, program, points_file, generated + compiled)


def run_worker(kind, label, folder, limit, done):
    """Run ``worker(kind, label, folder)`` in a child process for at most ``limit`` seconds;
    None, or why it did not finish ("not generated in 90 s")."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, label, str(folder)]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        _, errors = child.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return f"not {done} in {limit:g} s"
    if child.returncode != 0:
        last = (errors.strip().splitlines() or ["no message"])[-1]
        return f"fails: {last[:80]}"
    return None


def generated_row(key, label, net, build, flags, limit, points_file):
    """A CasADi or SymForce row: generated in a child process, compiled, each under ``limit`` seconds."""
    folder = build / key
    folder.mkdir(parents=True)
    if key == "symforce" and not cbuild.EIGEN.is_dir():
        return Row(key, note="not built: Eigen headers missing")
    start = time.perf_counter()
    failure = run_worker(key, label, folder, limit, "generated")
    if failure:
        return Row(key, note=failure)
    files = json.loads((folder / "files.json").read_text())
    try:
        program, compiled = cbuild.compile_harness(folder, [folder / f for f in files["c"]],
                                            [folder / f for f in files["cxx"]], flags, limit)
    except subprocess.TimeoutExpired:
        return Row(key, note=f"generated in {files['seconds']:.0f} s, not compiled in {limit:g} s")
    except subprocess.CalledProcessError as error:
        return Row(key, note=f"compile failed: {(error.stderr.strip().splitlines() or ['?'])[-1][:80]}")
    return c_row(key, net, folder, program, points_file, time.perf_counter() - start)


# ---------------------------------------------------------------- Python baselines

def python_row(key, single, batch, build_s=None):
    """A row of Python callables: ``single`` (one point) and ``batch`` (all points), either may be None."""
    points = [None, None]     # (one point, the batch), set once the points are drawn

    def times(budget):   # a call longer than the budget is timed once (torch's 20-256-256-10 batches)
        return (timing.best_seconds(single, points[0], budget, limit=budget) * 1e9 if single else None,
                timing.best_seconds(batch, points[1], budget, limit=budget) * 1e9 / len(points[1]) if batch else None)

    def evaluate(Z):
        return (([np.array([single(z) for z in Z]).reshape(len(Z), -1)] if single else [])
                + ([batch(Z).reshape(len(Z), -1)] if batch else []))
    row = Row(key, evaluate, times, build_s=build_s)
    row.points = points
    return row


def jax_row(net):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    f = others.raw_outputs(net, jnp.asarray, jnp.tanh)
    single, batch = jax.jit(jax.hessian(f)), jax.jit(jax.vmap(jax.hessian(f)))
    return python_row("jax", lambda x: np.asarray(single(x).block_until_ready()),
                      lambda Z: np.asarray(batch(Z).block_until_ready()))


def torch_functions(net):
    """(f, hessian(f), vmap(hessian(f)), vmap(jacrev(jacrev(f)))) in torch.func, float64."""
    import torch
    from torch.func import hessian, jacrev, vmap
    torch.set_num_threads(1)
    f = others.raw_outputs(net, lambda v: torch.tensor(np.array(v)), torch.tanh)
    return f, hessian(f), vmap(hessian(f)), vmap(jacrev(jacrev(f)))


def torch_probe(kind, net, X):
    """Child-process entry: compile the function of row ``kind`` and call it once."""
    import torch
    _, single, _, batch = torch_functions(net)
    if kind == "torch-compile":
        torch.compile(single)(torch.as_tensor(X[0]))
    else:
        torch.compile(batch)(torch.as_tensor(X[:PYTHON_BATCH]))


def torch_rows(net, X, limit, label, build, given_up):
    """torch.func.hessian and vmap of it; and under torch.compile the one-point Hessian and
    the batch, each where it compiles within ``limit`` seconds."""
    import torch
    _, single, batch, reverse = torch_functions(net)
    plain = python_row("torch", lambda x: single(torch.as_tensor(x)).numpy(),
                       lambda Z: batch(torch.as_tensor(Z)).numpy())
    # torch 2.13 cannot compile forward mode under vmap (vmap(hessian) fails with an internal
    # assert in _fw_primal), so the compiled batch is reverse-over-reverse
    rows = [plain]
    for key, function, argument in (("torch-compile", single, X[0]), ("torch-compile-vmap", reverse, X)):
        # dynamo catches the exceptions of its compilation (an alarm's too) and goes on:
        # a child process tries the compilation first, under a time limit
        def compiled(key, function=function, argument=argument):
            failure = run_worker(key, label, build, limit, "compiled")
            torch._dynamo.reset()   # else the wrappers, the same code for every net, recompile and fail
            return Row(key, note=failure) if failure else compiled_row(key, torch.compile(function), argument, limit)
        rows.append(unless_given_up(key, label, given_up, compiled))
    return rows


def compiled_row(key, compiled, argument, limit):
    """The row of a torch.compile'd function, once its first call has compiled it within
    ``limit`` seconds (an alarm interrupts it), else a row saying why not."""
    import torch

    # a failed compilation logs its whole stack: the table entry says enough
    logging.getLogger("torch").setLevel(logging.CRITICAL)

    def expired(*_):
        raise TimeoutError
    previous = signal.signal(signal.SIGALRM, expired)
    start = time.perf_counter()
    signal.alarm(int(limit))
    try:
        compiled(torch.as_tensor(argument[:PYTHON_BATCH]))
    except TimeoutError:
        return Row(key, note=f"not compiled in {limit:g} s")
    except Exception as error:   # noqa: BLE001 (any failure of the compiler is a table entry)
        return Row(key, note=f"fails: {type(error).__name__}: {str(error).splitlines()[0][:60]}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    call = lambda x: compiled(torch.as_tensor(x)).numpy()   # noqa: E731
    single = key == "torch-compile"
    return python_row(key, call if single else None, None if single else call,
                      build_s=time.perf_counter() - start)


# ---------------------------------------------------------------- checking and timing

def reference_hessians(net, X):
    """An independent reference: JAX's Hessian, or symnet's NumPy reference without JAX."""
    if nets.available("jax"):
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        f = others.raw_outputs(net, jnp.asarray, jnp.tanh)
        return np.asarray(jax.vmap(jax.hessian(f))(X)).reshape(len(X), -1), "JAX"
    return np.asarray(symnet.derive(net, "hessian")(X)).reshape(len(X), -1), "symnet.derive"


def check(row, X, expected):
    """Refuse (note, never time) a row whose Hessian is off the reference."""
    # np.max, not max: a NaN anywhere makes the error NaN, and NaN is refused
    row.error = float(np.max([np.max(np.abs(h - expected)) / np.max(np.abs(expected)) for h in row.evaluate(X)]))
    if not row.error <= TOLERANCE:
        row.note = f"refused: off the reference by {row.error:.1e}"
        row.times = None


def measure(rows, rounds, budget):
    timed = [row for row in rows if row.times is not None]
    for turn in range(rounds if timed else 0):
        for row in timed[turn % len(timed):] + timed[:turn % len(timed)]:
            single, batch = row.times(budget)
            if single is not None:
                row.single.append(single)
            if batch is not None:
                row.batch.append(batch)


def unless_given_up(key, label, given_up, make):
    """``make(key)``, the row of a baseline built under a time limit, unless it was past
    its limit on a smaller net (``given_up``: {key: the table entry}, updated here): there
    it would take as long again, to the same end."""
    if key in given_up:
        return Row(key, note=given_up[key])
    row = make(key)
    if "not generated in" in row.note or "not compiled in" in row.note:
        given_up[key] = f"{row.note} on {label}"
    return row


def rows_of(label, build, args, flags, given_up):
    """Every row of net ``label``, checked against the reference; ``given_up``: {key: why}
    of the baselines past their time limit on a smaller net (not tried again), updated."""
    net = nets.mlp(label)
    X, points_file = nets.batch_points(net, label, build)
    rows = [symnet_row("symnet-exact", net, build, flags, "exact", points_file),
            symnet_row("symnet-fast", net, build, flags, "fast", points_file)]
    if nets.available("casadi"):
        rows += [unless_given_up(f"casadi-{kind}", label, given_up, lambda key: generated_row(
                 key, label, net, build, flags, args.limit, points_file)) for kind in ("SX", "MX")]
    else:
        rows += [Row("casadi-SX", note="casadi not installed"), Row("casadi-MX", note="casadi not installed")]
    rows.append(unless_given_up("symforce", label, given_up, lambda key: generated_row(
                key, label, net, build, flags, args.limit, points_file))
                if nets.available("symforce") else Row("symforce", note="symforce not installed"))
    rows.append(jax_row(net) if nets.available("jax") else Row("jax", note="jax not installed"))
    rows += (torch_rows(net, X, args.limit, label, build, given_up) if nets.available("torch")
             else [Row(key, note="torch not installed") for key in ("torch", "torch-compile", "torch-compile-vmap")])
    for row in rows:
        if hasattr(row, "points"):
            row.points[:] = [X[0], X[:PYTHON_BATCH]]
    expected, source = reference_hessians(net, X[:CHECK_POINTS])
    for row in rows:
        if row.evaluate is not None:
            check(row, X[:CHECK_POINTS], expected)
    return rows, source


# ---------------------------------------------------------------- report

def duration(nanoseconds):
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if nanoseconds >= scale:
            return f"{nanoseconds / scale:.3g} {unit}"
    return f"{nanoseconds:.3g} ns"


def cell(row, which, base):
    if row.note:
        return row.note
    values = getattr(row, which)
    if not values:
        return "—"
    median = float(np.median(values))
    return f"{duration(median)} ({median / base:.2f}×)"


def report(results, rounds, flags):
    labels = list(results)
    lines = ["| Hessian | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    base = {label: float(np.median(next(r for r in rows if r.key == "symnet-exact").single))
            for label, (rows, _) in results.items()}
    for key, title, which in TABLE_ROWS:
        cells = [cell(next(r for r in results[label][0] if r.key == key), which, base[label]) for label in labels]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines += ["", "| build (generate + compile) / largest error vs reference | " + " | ".join(labels) + " |",
              "|---|" + "---:|" * len(labels)]
    for key in dict.fromkeys(key for key, _, _ in TABLE_ROWS):
        cells = []
        for label in labels:
            row = next(r for r in results[label][0] if r.key == key)
            built = f"{row.build_s:.1f} s" if row.build_s is not None else "—"
            cells.append(row.note if row.note else f"{built} / {row.error:.1e}")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    sources = sorted({source for _, source in results.values()})
    lines += ["", f"times: median of {rounds} interleaved rounds (each the best of a few calls); ratios to "
              "symnet C layered exact, one point per call, same net, same run; C and C++ compiled with "
              f"{' '.join(flags)}; errors: largest |difference| / largest |entry| against {', '.join(sources)} "
              f"at {CHECK_POINTS} points"]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="the three small nets, 3 rounds, 30 s limits (about 2 minutes)")
    parser.add_argument("--nets", help="comma-separated, from " + ", ".join(nets.SIZES))
    parser.add_argument("--rounds", type=int, help="interleaved timing rounds (median kept); default 3")
    parser.add_argument("--budget", type=float, default=0.1, help="seconds per backend per round")
    parser.add_argument("--limit", type=float, help="seconds allowed to generate, compile or torch.compile "
                        "one baseline; 45, 30 with --quick")
    parser.add_argument("--flags", default="-O2", help="compiler flags of every C and C++ backend (default -O2)")
    parser.add_argument("--native", action="store_true", help=f"compile with {NATIVE} (instead of --flags)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(*args.worker)
    labels = (args.nets.split(",") if args.nets else list(QUICK_NETS if args.quick else nets.SIZES))
    unknown = [label for label in labels if label not in nets.SIZES]
    if unknown:
        parser.error(f"--nets: unknown net {unknown[0]!r} (known: {', '.join(nets.SIZES)})")
    labels.sort(key=lambda label: nets.mlp(label).parameter_count)   # smallest first (unless_given_up)
    args.rounds = args.rounds or 3
    args.limit = args.limit or (30.0 if args.quick else 45.0)
    flags = (NATIVE if args.native else args.flags).split()
    results, given_up = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        for label in labels:
            build = Path(scratch) / label
            build.mkdir()
            start = time.perf_counter()
            rows, source = rows_of(label, build, args, flags, given_up)
            built = time.perf_counter()
            measure(rows, args.rounds, args.budget)
            print(f"{label}: built and checked in {built - start:.0f} s, timed in {time.perf_counter() - built:.0f} s",
                  file=sys.stderr, flush=True)
            results[label] = (rows, source)
            print(report(results, args.rounds, flags), file=sys.stderr, flush=True)   # so far
    print(report(results, args.rounds, flags))


if __name__ == "__main__":
    main()
