"""Where the layered form starts to beat the unrolled one: generation time and
run time of both strategies, per target, on tanh MLPs of growing size.

    python benchmarks/strategy_threshold.py

Prints one table per target; the thresholds in symnet (``layered_from`` of each
target) are the smallest parameter count from which the layered form ran at
least as fast as the unrolled one, one point per call and in a batch, on this
net and every larger one measured.  A measurement, not a test.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import symnet  # noqa: E402
from symnet.reference.finite_differences import sample_points  # noqa: E402
from symnet.emit import get_target, target_names  # noqa: E402

import backends  # noqa: E402
import cbuild  # noqa: E402
import nets  # noqa: E402
import timing  # noqa: E402

SHAPES = ((2, 2, 1), (3, 4, 1), (3, 10, 1), (4, 12, 2), (5, 20, 3), (5, 20, 20, 3), (4, 32, 32, 2))


def network(sizes):
    label = "-".join(map(str, sizes))
    nets.SIZES.setdefault(label, sizes)
    return nets.mlp(label, seed=sum(sizes))


def numpy_times(net, folder, strategy, X):
    start = time.perf_counter()
    symnet.generate(net, ["numpy"], folder, derivatives=["jacobian"], name="model", strategy=strategy)
    seconds = time.perf_counter() - start
    module = backends.import_module(folder / "model_numpy.py", f"threshold_{folder.name}_{net.name}")
    return (seconds, timing.best_seconds(module.jacobian, X[0]) * 1e9,
            timing.best_seconds(module.jacobian, X) * 1e9 / len(X))


def c_times(net, folder, strategy, points):
    start = time.perf_counter()
    symnet.generate(net, ["c"], folder, derivatives=["jacobian"], name="model", strategy=strategy)
    seconds = time.perf_counter() - start
    glue = cbuild.adapter(folder, "model", net.n_inputs, net.n_outputs, "model_jacobian(x, jac);",
                          "model_jacobian_batch(n, x, jac);", '#include "model.h"')
    program = cbuild.compile_program(folder, [folder / "model.c", glue], "O3native", "bench", include=(folder,))
    return (seconds, *cbuild.run_time(program, points, 0.2))


def main():
    measured = {"numpy": numpy_times}
    if "c" in target_names() and "layered" in get_target("c").strategies:
        measured["c"] = c_times
    with tempfile.TemporaryDirectory() as scratch:
        for target, measure in measured.items():
            print(f"\n{target}: generation s / one point ns / batch ns per point")
            print(f"{'net':>14} {'params':>7} | {'unrolled':>28} | {'layered':>28} | layered faster")
            for sizes in SHAPES:
                net = network(sizes)
                X = sample_points(net, 2000, seed=1)
                points = Path(scratch) / "points.bin"
                X.tofile(points)
                row = {}
                for strategy in ("unrolled", "layered"):
                    folder = Path(scratch) / f"{target}_{strategy}_{net.name}"
                    row[strategy] = measure(net, folder, strategy, X if target == "numpy" else points)
                faster = row["layered"][1] <= row["unrolled"][1] and row["layered"][2] <= row["unrolled"][2]
                text = {s: "{:6.2f} s {:9.0f} {:9.1f}".format(*row[s]) for s in row}
                print(f"{net.name[4:]:>14} {net.parameter_count:7d} | {text['unrolled']} | {text['layered']} |"
                      f" {'yes' if faster else 'no'}", flush=True)


if __name__ == "__main__":
    main()
