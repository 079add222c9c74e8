"""Benchmark: time per Jacobian of symnet's generated code against a hand-written
C reference, CasADi-generated C, jax.jit(jacrev) and torch.func.jacrev, on four
tanh MLPs with mapminmax on both sides; plus symnet's generation time, peak
memory and code size.  Every backend's Jacobian is checked against the
reference before it is timed.  Everything runs on one thread.

    pip install -e '.[bench]'
    python benchmarks/run.py                 # all four nets, about 8 minutes
    python benchmarks/run.py --nets 3-10-1   # one net

Writes benchmarks/results/results.json, results.md (the tables) and
performance.png.  This is a measurement, not a test: it asserts nothing about speed.
"""

import os

import one_thread  # noqa: E402,F401  (one thread for every library, before numpy)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import symnet  # noqa: E402
from symnet.reference.finite_differences import compare, finite_difference_jacobian, sample_points  # noqa: E402

import backends  # noqa: E402
import generation  # noqa: E402
import nets  # noqa: E402
import report  # noqa: E402

BATCH = 10_000
CHECK_POINTS = 20
TOLERANCE = 1e-10             # relative to the largest |entry|, for every backend without fast-math
FAST_MATH_TOLERANCE = 1e-8
UNROLLED_UP_TO = 1000         # parameters: the unrolled form is benchmarked up to here
GENERATION_LIMITS = {"3-10-1": 2, "5-20-20-3": 5, "2-64-64-64-1": 20, "20-256-256-10": 60}


def reference(net, X):
    """The hand-written NumPy Jacobian, itself checked against finite differences of
    the network's direct evaluation (and against symnet's own closed form on small nets)."""
    J = nets.hand_numpy_jacobian(net)(X)
    finite = finite_difference_jacobian(net, X[:3])
    error = compare(J[:3], finite).max_rel_error
    if error > 1e-6:
        raise AssertionError(f"{net.name}: reference Jacobian off finite differences by {error:.1e}")
    return J


def build_backends(label, net, build, X, points, include):
    made = backends.hand_backends(net, build, points) + [backends.hand_numpy_backend(net, X)]
    strategies = ("unrolled", "layered") if net.parameter_count <= UNROLLED_UP_TO else ("layered",)
    for strategy in strategies:
        made += backends.symnet_c_backends(net, build, strategy, points)
        made.append(backends.symnet_numpy_backend(net, build, strategy, X))
    if "casadi" in include:
        if net.parameter_count <= 10_000:
            made.append(backends.casadi_backend(net, build, "SX", points))
        made.append(backends.casadi_backend(net, build, "MX", points))
    if "jax" in include:
        made.append(backends.jax_backend(net, X))
    if "torch" in include:
        made.append(backends.torch_backend(net, X))
    return made


def run_net(label, build, include, rounds):
    """Every backend checked, then timed in ``rounds`` interleaved rounds (the best of
    each kept): on a shared machine whose speed drifts over minutes, every backend then
    sees the same slow and fast spells, and the ratios move less between runs."""
    net = nets.mlp(label)
    X = sample_points(net, BATCH, seed=7)
    points = (build / "points.bin", build / "points_small.bin")
    X.tofile(points[0])
    X[:backends.SMALL_BATCH].tofile(points[1])
    J = reference(net, X[:CHECK_POINTS])
    checked = []
    for backend in build_backends(label, net, build, X, points, include):
        error = max(float(np.max(np.abs(result - J)) / np.max(np.abs(J)))
                    for result in backend.jacobian(X[:CHECK_POINTS]))
        tolerance = FAST_MATH_TOLERANCE if "fast-math" in backend.label else TOLERANCE
        row = {"backend": backend.label, "group": backend.group, "error": error, **backend.notes}
        if error > tolerance:
            row["wrong"] = True
        checked.append((backend, row))
    for _ in range(rounds):
        for backend, row in checked:
            if row.get("wrong"):
                continue
            for key, nanoseconds in zip(("single_ns", "batch_ns"), backend.times()):
                best = row.get(key)
                row[key] = nanoseconds if best is None else min(best, nanoseconds)
    for backend, row in checked:
        print(f"  {backend.label:34s} error {row['error']:.1e}  single {report.ns(row.get('single_ns'))}"
              f"  batch {report.ns(row.get('batch_ns'))}", flush=True)
    return {"net": label, "parameters": net.parameter_count, "n_inputs": net.n_inputs,
            "n_outputs": net.n_outputs, "rounds": rounds, "rows": [row for _, row in checked]}


def generation_rows(label, build):
    rows = []
    # numpy and c share one process (and the self-check's 30-digit test vectors); "all" is
    # stopped shortly after its limit: past it the target is missed whatever the time.
    targets = [("numpy + c", ["numpy", "c"]), ("all targets", ["all"])]
    for name, target_list in targets:
        limit = GENERATION_LIMITS[label]
        result = generation.measure(label, target_list, build / f"gen_{name.replace(' ', '_')}",
                                    timeout=limit + 15 if "all" in target_list else 300)
        rows.append({"targets": name, "limit_s": limit, **result})
        print(f"  generate {name:12s} {json.dumps(result)[:150]}", flush=True)
    return rows


def hessian_row(build):
    """Generation and evaluation of the 5-20-20-3 Hessian in C (target: < 10 s and
    within 3x the Jacobian's time times n_inputs)."""
    if "c" not in symnet.emit.target_names():
        return None
    import cbuild
    net = nets.mlp("5-20-20-3")
    folder = build / "hessian"
    start = time.perf_counter()
    symnet.generate(net, ["c"], folder, derivatives=["jacobian", "hessian"], name="model")
    seconds = time.perf_counter() - start
    timings = {}
    for what, size in (("jacobian", net.n_outputs * net.n_inputs),
                       ("hessian", net.n_outputs * net.n_inputs ** 2)):
        glue = cbuild.adapter(folder, what, net.n_inputs, size // net.n_inputs, f"model_{what}(x, jac);",
                              f"model_{what}_batch(n, x, jac);", '#include "model.h"')
        program = cbuild.compile_program(folder, [folder / "model.c", glue], "O3native", f"bench_{what}",
                                         include=(folder,))
        timings[what] = cbuild.run_time(program, build / "points.bin", 0.3)[0]
    return {"generate_s": seconds, "jacobian_ns": timings["jacobian"], "hessian_ns": timings["hessian"],
            "n_inputs": net.n_inputs,
            "ratio": timings["hessian"] / (timings["jacobian"] * net.n_inputs)}


def available(names):
    found = []
    for name in names:
        try:
            __import__(name)
            found.append(name)
        except ImportError:
            print(f"({name} not installed: skipped)")
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", default=",".join(nets.SIZES), help="comma-separated, from " + ", ".join(nets.SIZES))
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--no-generation", action="store_true", help="skip the generation measurements")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds per net (best kept)")
    args = parser.parse_args(argv)
    include = available(["casadi", "jax", "torch"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results = {"machine": machine(), "nets": [], "generation": {}, "hessian": None}
    with tempfile.TemporaryDirectory() as scratch:
        for label in args.nets.split(","):
            build = Path(scratch) / label
            build.mkdir()
            print(f"{label}:", flush=True)
            results["nets"].append(run_net(label, build, include, args.rounds))
            if not args.no_generation:
                results["generation"][label] = generation_rows(label, build)
        if "5-20-20-3" in args.nets.split(","):
            results["hessian"] = hessian_row(Path(scratch) / "5-20-20-3")
    results["seconds"] = time.time() - started
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.md").write_text(report.markdown(results))
    report.plot(results, out / "performance.png")
    print(report.markdown(results))
    print(f"total {results['seconds']:.0f} s; wrote {out}")


def machine():
    compiler = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "gcc": compiler, "numpy": np.__version__}


if __name__ == "__main__":
    main()
