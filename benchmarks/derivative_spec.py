"""Cost of the derivative spec's directional derivatives in the generated C, and against JAX.

    python benchmarks/derivative_spec.py [--flags O2|O3native] [--rounds 30] [--no-jax]

Goals (layered strategy, one point per call): for 2-64-64-64-1 and 3-64-64-64-1
(benchmarks/nets.py, tanh) it times the single-point functions value, jvp, vjp, hessian,
laplacian and the named second partials d2y/dx1^2 and d2y/dx1dx2 in one interleaved run:
every round times each function once (a loop over 256 points long enough to take about
2 ms), and each function's time is its best round, so that the load of a shared machine
falls on all of them alike.  Printed: ns per call and the ratios the derivative spec aims
at (JVP <= 2x value, VJP <= 3x value, Laplacian <= 0.6x Hessian, a named partial <= 0.5x
Hessian).

JAX (when installed; one thread, float64, the same -O flags for the C): on the four nets of
nets.py, symnet's jvp, vjp and laplacian, one point per call and batch (per point), against
jax.jit(jax.jvp), jax.jit(jax.vjp) and jax.jit of the trace of jax.hessian, and their
jax.jit(jax.vmap(...)) for the batch.  The C program and the JAX functions take turns, round
by round, and the best round of each is kept.  Every C result is checked against JAX's
(relative 1e-10) before anything is timed.
"""

import one_thread  # noqa: E402,F401  (one thread for every library, before numpy)

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cbuild  # noqa: E402
import nets  # noqa: E402
import others  # noqa: E402
import timing  # noqa: E402

import symnet  # noqa: E402
from symnet.reference.finite_differences import sample_points  # noqa: E402

GOAL_NETS = {"2-64-64-64-1": (2, 64, 64, 64, 1), "3-64-64-64-1": (3, 64, 64, 64, 1), "3-10-1": (3, 10, 1),
             "5-20-20-3": (5, 20, 20, 3), "20-256-256-10": (20, 256, 256, 10)}
#: (label, derivative, function suffix, extra argument or None) of the goals' run
GOAL_FUNCTIONS = (("value", "value", "evaluate", None), ("jvp", "jvp", "jvp", "v"), ("vjp", "vjp", "vjp", "w"),
                  ("hessian", "hessian", "hessian", None), ("laplacian", "laplacian", "laplacian", None),
                  ("d2y/dx1^2", "d2y1/dx1^2", "d2y1_dx1_dx1", None),
                  ("d2y/dx1dx2", "d2y1/dx1dx2", "d2y1_dx1_dx2", None))
#: the derivatives compared with JAX
JAX_KINDS = (("jvp", "v"), ("vjp", "w"), ("laplacian", None))
POINTS = 256
CHECK_POINTS = 8

_MAIN = r"""#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <string.h>
#include <time.h>
%(includes)s

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

%(data)s
static double out[%(out_size)d];
static const int per_call[%(count)d] = {%(per_call)s};
static const int out_size[%(count)d] = {%(sizes)s};
volatile double sink;

static void call(int f, size_t p)
{
    switch (f) {
%(cases)s
    }
}

int main(int argc, char **argv)
{
    double best[%(count)d];
    long calls[%(count)d];
    int f, round, i;
    long c;
    if (argc > 1 && strcmp(argv[1], "check") == 0) {   /* single-point results of the first points */
        for (f = 0; f < %(count)d; ++f) {
            if (per_call[f] != 1) continue;
            for (c = 0; c < %(check)d; ++c) {
                call(f, (size_t)c);
                for (i = 0; i < out_size[f]; ++i) printf("%%d %%ld %%.17g\n", f, c, out[i]);
            }
        }
        return 0;
    }
    for (f = 0; f < %(count)d; ++f) { best[f] = 1e30; calls[f] = 1; }
    for (round = -1; round < ROUNDS; ++round) {
        for (f = 0; f < %(count)d; ++f) {
            double t = now();
            for (c = 0; c < calls[f]; ++c) {
                call(f, (size_t)(c %% %(points)d));
                sink += out[0];
            }
            t = now() - t;
            if (round < 0) {   /* calibration: about 2 ms per round */
                calls[f] = (long)((double)calls[f] * 0.002 / (t > 1e-9 ? t : 1e-9)) + 1;
            } else if (t / (double)(calls[f] * per_call[f]) < best[f]) {
                best[f] = t / (double)(calls[f] * per_call[f]);
            }
        }
    }
    for (f = 0; f < %(count)d; ++f) printf("%%d %%.1f\n", f, best[f] * 1e9);
    return 0;
}
"""


class CProgram:
    """The generated C functions of one network, timed (and read back) by one program.
    ``functions``: (label, derivative, function suffix, extra argument or None, batch)."""

    def __init__(self, net, functions, flags, build, one_file=False):
        self.net, self.functions, self.build = net, functions, build
        derivatives = list(dict.fromkeys(derivative for _, derivative, _, _, _ in functions))
        # each derivative in a file of its own, as generated for it alone (``one_file``: all
        # in one file, as a user who asks for them together gets them; as fast since the C
        # helpers are forced inline: docs/performance.md)
        files = {derivative: "bench" if one_file else f"bench{index}"
                 for index, derivative in enumerate(derivatives)}
        for name in dict.fromkeys(files.values()):
            symnet.generate(net, ["c"], build, name=name, strategy="layered",
                            derivatives=[d for d in derivatives if files[d] == name])
        self.sources = [build / f"{name}.c" for name in dict.fromkeys(files.values())]
        includes = "".join(f'#include "{name}.h"\n' for name in dict.fromkeys(files.values()))
        rng = np.random.default_rng(0)
        self.points = sample_points(net, POINTS, seed=1)
        self.arguments = {"v": rng.uniform(-1, 1, (POINTS, net.n_inputs)),
                          "w": rng.uniform(-1, 1, (POINTS, net.n_outputs))}
        data = (cbuild.c_array("X", self.points) + cbuild.c_array("V", self.arguments["v"])
                + cbuild.c_array("W", self.arguments["w"]))
        cases, sizes = [], []
        for index, (_, derivative, suffix, extra, batch) in enumerate(functions):
            sizes.append(int(np.prod(symnet.derive(net, derivative).shape)))
            function = f"{files[derivative]}_{suffix}"
            if batch:
                argument = "" if extra is None else f"{extra.upper()}, "
                cases.append(f"        case {index}: {function}_batch({POINTS}, X, {argument}out); break;")
            else:
                width = net.n_inputs if extra == "v" else net.n_outputs
                argument = "" if extra is None else f"{extra.upper()} + p * {width}, "
                cases.append(f"        case {index}: {function}(X + p * {net.n_inputs}, {argument}out); break;")
        count = len(functions)
        (build / "main.c").write_text(_MAIN % {
            "includes": includes, "data": data, "count": count, "points": POINTS, "check": CHECK_POINTS,
            "cases": "\n".join(cases), "out_size": POINTS * max(sizes),
            "per_call": ", ".join(str(POINTS if batch else 1) for *_, batch in functions),
            "sizes": ", ".join(map(str, sizes))})
        self.program = build / "bench_spec"
        self.flags = flags
        self.sizes = sizes

    def compile(self, rounds):
        subprocess.run([cbuild.CC, "-std=c99", *cbuild.FLAGS[self.flags], f"-DROUNDS={rounds}", "-o",
                        str(self.program), str(self.build / "main.c"), *map(str, self.sources), "-lm"],
                       check=True, capture_output=True, text=True)

    def times(self):
        """{label: ns per point} of one run (its own interleaved rounds)."""
        text = subprocess.run([str(self.program)], check=True, capture_output=True, text=True).stdout
        return {self.functions[int(f)][0]: float(ns) for f, ns in (line.split() for line in text.splitlines())}

    def results(self):
        """{label: (CHECK_POINTS, size)} of the single-point functions."""
        text = subprocess.run([str(self.program), "check"], check=True, capture_output=True, text=True).stdout
        values = {}
        for line in text.splitlines():
            f, _, value = line.split()
            values.setdefault(self.functions[int(f)][0], []).append(float(value))
        return {label: np.array(v).reshape(CHECK_POINTS, -1) for label, v in values.items()}


def goals(label, flags, rounds, build, one_file=False):
    """{function label: ns per call} of one of GOAL_NETS."""
    nets.SIZES.setdefault(label, GOAL_NETS[label])
    program = CProgram(nets.mlp(label), [f + (False,) for f in GOAL_FUNCTIONS], flags, build, one_file)
    program.compile(rounds)
    return program.times()


def jax_functions(net):
    """{(kind, "one" or "batch"): function of (X, extra)} by jax.jit, float64."""
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    f = others.raw_outputs(net, jnp.asarray, jnp.tanh)
    one = {"jvp": lambda x, v: jax.jvp(f, (x,), (v,))[1],
           "vjp": lambda x, w: jax.vjp(f, x)[1](w)[0],
           "laplacian": lambda x: jnp.trace(jax.hessian(f)(x), axis1=-2, axis2=-1)}
    functions = {}
    for kind, function in one.items():
        for mode, compiled in (("one", jax.jit(function)), ("batch", jax.jit(jax.vmap(function)))):
            functions[kind, mode] = (lambda c: lambda *a: np.asarray(c(*a).block_until_ready()))(compiled)
    return functions


def against_jax(label, flags, rounds, build):
    """Rows (kind, C one ns, JAX one ns, C batch ns, JAX batch ns) of one of nets.SIZES."""
    net = nets.mlp(label)
    functions = [(f"{kind} {mode}", kind, kind, extra, mode == "batch") for kind, extra in JAX_KINDS
                 for mode in ("one", "batch")]
    program = CProgram(net, functions, flags, build)
    program.compile(3)
    jax = jax_functions(net)
    X, extra = program.points, {None: None, **program.arguments}
    got = program.results()
    for kind, name in JAX_KINDS:
        arguments = (X[:CHECK_POINTS],) + (() if name is None else (extra[name][:CHECK_POINTS],))
        expected = jax[kind, "batch"](*arguments).reshape(CHECK_POINTS, -1)
        error = np.max(np.abs(got[f"{kind} one"] - expected)) / np.max(np.abs(expected))
        if error > 1e-10:
            raise AssertionError(f"{label}: symnet's C {kind} is off JAX's by {error:.1e}")
    best = {}
    for _ in range(rounds):
        for key, ns in program.times().items():
            best[key] = min(best.get(key, np.inf), ns)
        for kind, name in JAX_KINDS:
            def one(p, kind=kind, name=name):
                return jax[kind, "one"](X[p], *(() if name is None else (extra[name][p],)))

            def batch(_, kind=kind, name=name):
                return jax[kind, "batch"](X, *(() if name is None else (extra[name],)))
            for mode, function, per in (("one", one, 1), ("batch", batch, POINTS)):
                ns = timing.best_seconds(function, 0, budget=0.02, repeats=3) * 1e9 / per
                best[f"jax {kind} {mode}"] = min(best.get(f"jax {kind} {mode}", np.inf), ns)
    return [(kind, best[f"{kind} one"], best[f"jax {kind} one"], best[f"{kind} batch"], best[f"jax {kind} batch"])
            for kind, _ in JAX_KINDS]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", choices=tuple(cbuild.FLAGS), default="O2")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--jax-rounds", type=int, default=5, help="rounds of the JAX comparison (best kept)")
    parser.add_argument("--nets", default=",".join(nets.SIZES), help="nets of the JAX comparison")
    parser.add_argument("--no-jax", action="store_true", help="the goals only")
    parser.add_argument("--goal-nets", default=",".join(GOAL_NETS),
                        help="nets of the goals' run (the Laplacian's goal holds from 3 inputs on, the named"
                             " partial's on 2-64-64-64-1)")
    parser.add_argument("--one-file", action="store_true",
                        help="the goals' functions generated into one C file (default: a file each)")
    args = parser.parse_args()
    for label in args.goal_nets.split(","):
        with tempfile.TemporaryDirectory() as folder:
            t = goals(label, args.flags, args.rounds, Path(folder), args.one_file)
        print(f"{label} ({args.flags}{', one file' if args.one_file else ''}): " + ", ".join(f"{what} {ns:.0f} ns" for what, ns in t.items()))
        print(f"  jvp/value {t['jvp'] / t['value']:.2f} (goal <= 2), vjp/value {t['vjp'] / t['value']:.2f}"
              f" (goal <= 3), laplacian/hessian {t['laplacian'] / t['hessian']:.2f} (goal <= 0.6),"
              f" d2y/dx1^2 / hessian {t['d2y/dx1^2'] / t['hessian']:.2f},"
              f" d2y/dx1dx2 / hessian {t['d2y/dx1dx2'] / t['hessian']:.2f} (goal <= 0.5)", flush=True)
    if args.no_jax:
        return
    try:
        import jax  # noqa: F401
    except ImportError:
        print("(jax not installed: no comparison)")
        return
    print(f"\nsymnet C ({args.flags}) / jax.jit, ns per point; goal: one point <= 0.5 on the three smaller nets,"
          " batch <= 1 (jax.jit(jax.vmap))")
    print("| net | derivative | symnet one | jax one | ratio | symnet batch | jax vmap | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label in args.nets.split(","):
        with tempfile.TemporaryDirectory() as folder:
            rows = against_jax(label, args.flags, args.jax_rounds, Path(folder))
        for kind, c_one, j_one, c_batch, j_batch in rows:
            print(f"| {label} | {kind} | {c_one:.0f} | {j_one:.0f} | {c_one / j_one:.3f} | {c_batch:.0f} |"
                  f" {j_batch:.0f} | {c_batch / j_batch:.3f} |", flush=True)


if __name__ == "__main__":
    main()
