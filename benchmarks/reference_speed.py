"""Time of the 30-digit reference values that every generated file set ships
as its self-check (symnet.reference.high_precision), at the self-check's 5 points.

    python benchmarks/reference_speed.py [--baseline REVISION]

With ``--baseline``, symnet/reference/high_precision.py as of that git revision is timed
in the same run (alternating with the current one) and the ratio printed,
together with a check that both give the same doubles.  The baseline module's
own relative imports resolve to the current package.  A measurement, not a
test: on a shared machine, compare the ratios of one run.
"""

import argparse
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import nets  # noqa: E402
from symnet.reference import high_precision  # noqa: E402
from symnet.reference.finite_differences import sample_points  # noqa: E402
from symnet.emit.selfcheck import POINT_COUNT, POINT_SEED  # noqa: E402

CASES = (("5-20-20-3", ("value", "jacobian", "hessian")),
         ("2-64-64-64-1", ("value", "jacobian")),
         ("20-256-256-10", ("value", "jacobian")),
         ("3-20-softmax20", ("jacobian", "hessian")),
         ("3-40-softmax40", ("jacobian", "hessian")))

#: cases whose baseline is not timed: sympy's softmax derivatives took 21 minutes there before
NO_BASELINE = {("3-40-softmax40", "hessian")}


def network(label):
    """A tanh MLP from benchmarks/nets.py, or 3-W-softmaxW: a tanh layer feeding a softmax layer."""
    if "softmax" not in label:
        return nets.mlp(label)
    from symnet import Input, Layer, Network, Output
    width = int(label.split("-")[1])
    rng = np.random.default_rng(width)
    return Network([Input("x", 3, [])],
                   [Layer(width, "tansig", rng.normal(size=width), [(0, rng.normal(size=(width, 3)))], []),
                    Layer(width, "softmax", rng.normal(size=width), [], [(0, rng.normal(size=(width, width)))])],
                   [Output("y", 1, [])])


def baseline_module(revision):
    """symnet/reference/high_precision.py as of ``revision`` (one with the package by stage),
    loaded as a module of the symnet.reference package."""
    source = subprocess.run(["git", "show", f"{revision}:symnet/reference/high_precision.py"], cwd=HERE.parent,
                            capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("symnet.reference.high_precision_baseline")
    module.__package__ = "symnet.reference"
    exec(compile(source, f"{revision}:symnet/reference/high_precision.py", "exec"), module.__dict__)
    return module


def timed(module, net, what, points):
    start = time.perf_counter()
    values = module.reference_values(net, what, points)
    return time.perf_counter() - start, values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="git revision whose high_precision.py to compare with")
    args = parser.parse_args(argv)
    baseline = baseline_module(args.baseline) if args.baseline else None
    print(f"{'network':>14} {'derivative':>10} {'seconds':>9}" + (" baseline    ratio  same" if baseline else ""))
    for label, whats in CASES:
        net = network(label)
        points = sample_points(net, POINT_COUNT, seed=POINT_SEED)
        for what in whats:
            seconds, values = timed(high_precision, net, what, points)
            line = f"{label:>14} {what:>10} {seconds:9.2f}"
            if baseline and (label, what) not in NO_BASELINE:
                old_seconds, old_values = timed(baseline, net, what, points)
                same = np.array_equal(values, old_values)
                line += f" {old_seconds:8.2f} {old_seconds / seconds:8.1f}  {'yes' if same else 'NO'}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
