"""The casadi target's Jacobian call against symnet's plain C Jacobian and a Jacobian
CasADi generates from the same network written in SX.

    python benchmarks/casadi_external.py [--large] [--strategy unrolled|layered|auto]

For each benchmark net (benchmarks/nets.py; the 20-256-256-10 net with --large), one C
program (gcc -O3 -march=native) times, over the same points and best of ROUNDS:
  plain     NAME_jacobian of the c target (row-major),
  external  jac_NAME of the casadi target, called as CasADi calls it (column-major),
  sx        CasADi's C code generation of jacobian(y, x) for the SX network,
after checking the three Jacobians agree.  Prints nanoseconds per call and the ratios
external/plain (goal <= 1.2) and external/sx (goal <= 0.5).  A measurement, not a test.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import casadi  # noqa: E402

import symnet  # noqa: E402
from symnet.reference.finite_differences import sample_points  # noqa: E402

import nets  # noqa: E402

POINTS = 64
ROUNDS = 7
FLAGS = ("-O3", "-march=native", "-std=gnu99")   # as benchmarks/run.py

HARNESS = r"""
#include <stdio.h>
#include <time.h>
#include "plain.h"
typedef long long int casadi_int;
int jac_ext(const double **, double **, casadi_int *, double *, int);
int jac_ext_work(casadi_int *, casadi_int *, casadi_int *, casadi_int *);
int sxjac(const double **, double **, casadi_int *, double *, int);
int sxjac_work(casadi_int *, casadi_int *, casadi_int *, casadi_int *);
#define N %(n)d
#define M %(m)d
#define P %(points)d
static const double X[P * N] = {%(points_text)s};
static double out[M * N], w[%(work)d];
static casadi_int iw[%(iwork)d];
static double sink;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void plain(int p) { plain_jacobian(X + p * N, out); }
static void external(int p)
{
    const double *arg[2];
    double *res[1];
    arg[0] = X + p * N; arg[1] = 0; res[0] = out;
    jac_ext(arg, res, iw, w, 0);
}
static void sx(int p)
{
    const double *arg[1];
    double *res[1];
    arg[0] = X + p * N; res[0] = out;
    sxjac(arg, res, iw, w, 0);
}

static double best_ns(void (*f)(int), long repeats)
{
    double best = 1e300, start, elapsed;
    long r;
    int round, p;
    for (round = 0; round < %(rounds)d; ++round) {
        start = now();
        for (r = 0; r < repeats; ++r) {
            for (p = 0; p < P; ++p) { f(p); sink += out[0]; }
        }
        elapsed = (now() - start) / ((double)repeats * P) * 1e9;
        if (elapsed < best) best = elapsed;
    }
    return best;
}

int main(int argc, char **argv)
{
    long repeats = 1;
    int p, k;
    void (*fs[3])(int) = {plain, external, sx};
    if (argc > 1 && argv[1][0] == 'c') {     /* check: print every Jacobian, row-major */
        for (k = 0; k < 3; ++k) {
            for (p = 0; p < P; ++p) {
                int i, j;
                fs[k](p);
                for (i = 0; i < M; ++i) for (j = 0; j < N; ++j)
                    printf("%%.17g\n", k == 0 ? out[i * N + j] : out[j * M + i]);
            }
        }
        return 0;
    }
    while (best_ns(plain, repeats) * repeats * P < 2e7) repeats *= 2;   /* about 20 ms a round */
    printf("%%.1f %%.1f %%.1f %%g\n", best_ns(plain, repeats), best_ns(external, repeats), best_ns(sx, repeats),
           sink * 0.0);
    return 0;
}
"""


def sx_network(net):
    """The benchmark net written as a CasADi SX expression from its weights."""
    x_offset, x_gain, x_ymin, layers, y_offset, y_gain, y_ymin = nets.parts(net)
    x = casadi.SX.sym("x", net.n_inputs)
    a = (x - casadi.DM(x_offset)) * casadi.DM(x_gain) + x_ymin
    for k, (W, b) in enumerate(layers):
        a = casadi.mtimes(casadi.DM(W), a) + casadi.DM(b)
        if k < len(layers) - 1:
            a = casadi.tanh(a)
    return x, (a - y_ymin) / casadi.DM(y_gain) + casadi.DM(y_offset)


def build(net, folder, strategy):
    symnet.generate(net, ["c"], folder, derivatives=["jacobian"], name="plain", strategy=strategy)
    symnet.generate(net, ["casadi"], folder, derivatives=["value", "jacobian"], name="ext", strategy=strategy)
    x, y = sx_network(net)
    sxjac = casadi.Function("sxjac", [x], [casadi.jacobian(y, x)])
    sxjac.generate("sxjac.c", {"with_header": False})
    os.replace("sxjac.c", folder / "sxjac.c")
    X = sample_points(net, POINTS, seed=2)
    work = max(net.n_inputs * (1 + net.n_outputs), int(sxjac.sz_w()))
    (folder / "harness.c").write_text(HARNESS % {
        "n": net.n_inputs, "m": net.n_outputs, "points": POINTS, "rounds": ROUNDS, "work": work,
        "iwork": max(1, int(sxjac.sz_iw())), "points_text": ", ".join(repr(float(v)) for v in X.ravel())})
    sources = ["harness.c", "plain.c", "ext_external.c", "ext_casadi.c", "sxjac.c"]
    subprocess.run(["gcc", *FLAGS, *sources, "-lm", "-o", "harness"], cwd=folder, check=True)
    return X


def main():
    strategy = sys.argv[sys.argv.index("--strategy") + 1] if "--strategy" in sys.argv else "auto"
    print(f"symnet strategy: {strategy}")
    labels = list(nets.SIZES) if "--large" in sys.argv else [k for k in nets.SIZES if k != "20-256-256-10"]
    print(f"{'net':>16} {'plain ns':>10} {'external ns':>12} {'sx ns':>10} {'ext/plain':>10} {'ext/sx':>8}")
    for label in labels:
        net = nets.mlp(label)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            X = build(net, folder, strategy)
            check = subprocess.run([folder / "harness", "check"], capture_output=True, text=True, check=True)
            jacobians = np.array(check.stdout.split(), dtype=float).reshape(3, len(X), net.n_outputs, net.n_inputs)
            reference = symnet.derive(net, "jacobian")(X)
            for variant in jacobians:
                np.testing.assert_allclose(variant, reference, rtol=1e-9, atol=1e-9 * np.abs(reference).max())
            timed = subprocess.run([folder / "harness"], capture_output=True, text=True, check=True)
            plain, external, sx = (float(v) for v in timed.stdout.split()[:3])
        print(f"{label:>16} {plain:10.1f} {external:12.1f} {sx:10.1f} {external / plain:10.2f} {external / sx:8.2f}")


if __name__ == "__main__":
    main()
