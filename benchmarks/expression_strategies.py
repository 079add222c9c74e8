"""A user expression's layered form against its unrolled form: the Burgers residual
r = y_t + y*y_x - nu*y_xx of the 2-64-64-64-1 tanh net of nets.py (inputs x, t).

    python benchmarks/expression_strategies.py [--flags O2|O3native] [--rounds 30] [--net 2-64-64-64-1]

Printed: the time ``symnet.generate`` takes to write the residual's value and gradient for
the c target with each strategy (the layered one best of three; the unrolled one once, with
``allow_large_unrolled``, in a process of its own stopped after ``--unrolled-limit`` seconds),
the size of each C file,
and ns per call of the single-point gradient function r_gradient of each, timed in one C
program round by round (each round calls both over 256 points for about 2 ms; each keeps
its best round), with the ratio unrolled / layered.  Both gradients are checked against
each other (relative 1e-9) before anything is timed.
"""

import argparse
import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cbuild  # noqa: E402
import nets  # noqa: E402

import symnet  # noqa: E402
from symnet.reference.finite_differences import sample_points  # noqa: E402

BURGERS = "r = y_x2 + y*y_x1 - nu*y_x1x1"
POINTS = 256

_MAIN = r"""#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "layered.h"
#include "unrolled.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

%(data)s
volatile double sink;

static void call(int f, size_t p, double *out)
{
    if (f == 0) layered_r_gradient(X + 2 * p, NU + p, out);
    else unrolled_r_gradient(X + 2 * p, NU + p, out);
}

int main(int argc, char **argv)
{
    double best[2] = {1e30, 1e30}, out[2];
    long calls[2] = {1, 1}, c;
    int f, round;
    if (argc > 1 && strcmp(argv[1], "check") == 0) {
        for (c = 0; c < %(points)d; ++c) {
            for (f = 0; f < 2; ++f) {
                call(f, (size_t)c, out);
                printf("%%.17g %%.17g ", out[0], out[1]);
            }
            printf("\n");
        }
        return 0;
    }
    for (round = -1; round < ROUNDS; ++round) {
        for (f = 0; f < 2; ++f) {
            double t = now();
            for (c = 0; c < calls[f]; ++c) {
                call(f, (size_t)(c %% %(points)d), out);
                sink += out[0];
            }
            t = now() - t;
            if (round < 0) calls[f] = (long)((double)calls[f] * 0.002 / (t > 1e-9 ? t : 1e-9)) + 1;
            else if (t / (double)calls[f] < best[f]) best[f] = t / (double)calls[f];
        }
    }
    printf("%%.1f %%.1f\n", best[0] * 1e9, best[1] * 1e9);
    return 0;
}
"""


def _generate(net, build, strategy):
    start = time.perf_counter()
    symnet.generate(net, ["c"], build, name=strategy, strategy=strategy, allow_large_unrolled=True,
                    expressions=[BURGERS], parameters={"nu": 1})
    return time.perf_counter() - start


def _generate_within(net, build, strategy, limit):
    """Seconds ``_generate`` took in a process of its own, or None when it ran past ``limit``."""
    process = multiprocessing.Process(target=_generate, args=(net, build, strategy))
    start = time.perf_counter()
    process.start()
    process.join(limit)
    if process.is_alive():
        process.terminate()
        process.join()
        return None
    if process.exitcode != 0:
        raise SystemExit(f"the {strategy} generation failed")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flags", default="O2", choices=sorted(cbuild.FLAGS))
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--net", default="2-64-64-64-1", choices=[k for k, v in nets.SIZES.items() if v[0] == 2])
    parser.add_argument("--unrolled-limit", type=float, default=1200.0,
                        help="seconds the unrolled generation may take before it is stopped")
    args = parser.parse_args()
    net = nets.mlp(args.net)
    with tempfile.TemporaryDirectory() as folder:
        build = Path(folder)
        layered = [_generate(net, build, "layered") for _ in range(3)]
        print(f"{args.net} tanh, Burgers residual value + gradient, c target", flush=True)
        print(f"generation: layered {min(layered):.2f} s (best of 3),"
              f" {(build / 'layered.c').stat().st_size / 1e3:.0f} kB of C", flush=True)
        unrolled = _generate_within(net, build, "unrolled", args.unrolled_limit)
        if unrolled is None:
            print(f"generation: unrolled stopped after {args.unrolled_limit:.0f} s (over"
                  f" {args.unrolled_limit / min(layered):.0f}x the layered)")
        else:
            print(f"generation: unrolled {unrolled:.2f} s, {(build / 'unrolled.c').stat().st_size / 1e3:.0f} kB of C,"
                  f" unrolled / layered {unrolled / min(layered):.0f}x", flush=True)
        strategies = ("layered", "unrolled") if unrolled is not None else ("layered",)
        rng = np.random.default_rng(0)
        data = cbuild.c_array("X", sample_points(net, POINTS, seed=1)) + cbuild.c_array(
            "NU", rng.uniform(0.001, 0.1, POINTS))
        main_c = _MAIN if unrolled is not None else _MAIN.replace('#include "unrolled.h"\n', "").replace(
            "else unrolled_r_gradient(X + 2 * p, NU + p, out);", "else layered_r_gradient(X + 2 * p, NU + p, out);")
        (build / "main.c").write_text(main_c % {"data": data, "points": POINTS})
        program = build / "bench"
        start = time.perf_counter()
        subprocess.run([cbuild.CC, "-std=c99", *cbuild.FLAGS[args.flags], f"-DROUNDS={args.rounds}", "-o",
                        str(program), str(build / "main.c"), *(str(build / f"{s}.c") for s in strategies), "-lm"],
                       check=True, capture_output=True, text=True, cwd=build)
        print(f"  gcc -std=c99 {' '.join(cbuild.FLAGS[args.flags])}: {time.perf_counter() - start:.1f} s")
        check = np.loadtxt(subprocess.run([str(program), "check"], check=True, capture_output=True,
                                          text=True).stdout.splitlines())
        scale = np.maximum(np.abs(check[:, 2:]), 1e-300)
        worst = float(np.max(np.abs(check[:, :2] - check[:, 2:]) / scale))
        if worst > 1e-9:
            raise SystemExit(f"the two gradients differ: relative {worst:.2e}")
        ns = [float(v) for v in subprocess.run([str(program)], check=True, capture_output=True,
                                               text=True).stdout.split()]
        if unrolled is None:
            print(f"r_gradient, one point per call (best of {args.rounds} rounds, -{args.flags}): layered"
                  f" {min(ns):.0f} ns")
        else:
            print(f"r_gradient, one point per call (best of {args.rounds} interleaved rounds, -{args.flags}):"
                  f" layered {ns[0]:.0f} ns, unrolled {ns[1]:.0f} ns, unrolled / layered {ns[1] / ns[0]:.2f}"
                  f" (gradients agree to {worst:.1e})")


if __name__ == "__main__":
    main()
