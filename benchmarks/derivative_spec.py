"""Cost of the derivative spec's directional derivatives in the generated C, one point per call.

    python benchmarks/derivative_spec.py [--flags O2|O3native] [--rounds 30]

For 2-64-64-64-1 and 3-64-64-64-1 (benchmarks/nets.py, tanh, layered strategy) it times the
single-point functions value, jvp, vjp, hessian, laplacian and one named second partial
d2y/dx1dx2 in one interleaved run: every round times each function once (a loop over 256
points long enough to take about 2 ms), and each function's time is its best round, so that
the load of a shared machine falls on all of them alike.  Printed: ns per call and the ratios
the derivative spec aims at (JVP <= 2x value, VJP <= 3x value, Laplacian <= 0.6x Hessian,
named partial <= 0.5x Hessian).
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cbuild  # noqa: E402
import nets  # noqa: E402

import symnet  # noqa: E402
from symnet.reference.finite_differences import sample_points  # noqa: E402

NETS = {"2-64-64-64-1": (2, 64, 64, 64, 1), "3-64-64-64-1": (3, 64, 64, 64, 1)}
#: (label, function suffix, extra argument or None, output size)
FUNCTIONS = (("value", "evaluate", None), ("jvp", "jvp", "v"), ("vjp", "vjp", "w"),
             ("hessian", "hessian", None), ("laplacian", "laplacian", None),
             ("d2y/dx1dx2", "d2y1_dx1_dx2", None))
POINTS = 256

_MAIN = r"""#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>
#include "bench.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

%(data)s
static double out[BENCH_N_OUTPUTS * BENCH_N_INPUTS * BENCH_N_INPUTS];
volatile double sink;

int main(void)
{
    double best[%(count)d];
    long calls[%(count)d];
    int f, round;
    size_t p;
    for (f = 0; f < %(count)d; ++f) { best[f] = 1e30; calls[f] = %(points)d; }
    for (round = -1; round < %(rounds)d; ++round) {
        for (f = 0; f < %(count)d; ++f) {
            double t = now();
            long c;
            for (c = 0; c < calls[f]; ++c) {
                p = (size_t)(c %% %(points)d);
                switch (f) {
%(cases)s
                }
                sink += out[0];
            }
            t = now() - t;
            if (round < 0) {   /* calibration: about 2 ms per round */
                calls[f] = (long)((double)calls[f] * 0.002 / (t > 1e-9 ? t : 1e-9)) + 1;
            } else if (t / (double)calls[f] < best[f]) {
                best[f] = t / (double)calls[f];
            }
        }
    }
    for (f = 0; f < %(count)d; ++f) printf("%%d %%.1f\n", f, best[f] * 1e9);
    return 0;
}
"""


def _array(name, values):
    return cbuild.c_array(name, values)


def timings(label, flags, rounds, build):
    """{function label: ns per call} of one network."""
    nets.SIZES.setdefault(label, NETS[label])
    net = nets.mlp(label)
    whats = [what for what, _, _ in FUNCTIONS]
    symnet.generate(net, ["c"], build, derivatives=whats, name="bench", strategy="layered")
    rng = np.random.default_rng(0)
    points = sample_points(net, POINTS, seed=1)
    data = (_array("X", points) + _array("V", rng.uniform(-1, 1, (POINTS, net.n_inputs)))
            + _array("W", rng.uniform(-1, 1, (POINTS, net.n_outputs))))
    cases = []
    for index, (_, suffix, extra) in enumerate(FUNCTIONS):
        argument = "" if extra is None else f"{extra.upper()} + p * {'BENCH_N_INPUTS' if extra == 'v' else 'BENCH_N_OUTPUTS'}, "
        cases.append(f"                case {index}: bench_{suffix}(X + p * BENCH_N_INPUTS, {argument}out); break;")
    (build / "main.c").write_text(_MAIN % {"data": data, "count": len(FUNCTIONS), "points": POINTS,
                                           "rounds": rounds, "cases": "\n".join(cases)})
    program = build / "bench_spec"
    subprocess.run([cbuild.CC, "-std=c99", *cbuild.FLAGS[flags], "-o", str(program), str(build / "main.c"),
                    str(build / "bench.c"), "-lm"], check=True, capture_output=True, text=True)
    text = subprocess.run([str(program)], check=True, capture_output=True, text=True).stdout
    times = [float(line.split()[1]) for line in text.splitlines()]
    return dict(zip(whats, times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", choices=tuple(cbuild.FLAGS), default="O2")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    for label in NETS:
        with tempfile.TemporaryDirectory() as folder:
            t = timings(label, args.flags, args.rounds, Path(folder))
        print(f"{label} ({args.flags}): " + ", ".join(f"{what} {ns:.0f} ns" for what, ns in t.items()))
        print(f"  jvp/value {t['jvp'] / t['value']:.2f} (goal <= 2), vjp/value {t['vjp'] / t['value']:.2f}"
              f" (goal <= 3), laplacian/hessian {t['laplacian'] / t['hessian']:.2f} (goal <= 0.6),"
              f" d2y/dx1dx2 / hessian {t['d2y/dx1dx2'] / t['hessian']:.2f} (goal <= 0.5)")


if __name__ == "__main__":
    main()
