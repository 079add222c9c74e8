"""The pure-Python target, layered against unrolled: generation time, and time
per Jacobian call of the generated module (one point per call), under this
interpreter and any other given with --python (the generated module needs
only ``math``; from Python 3.12 its dot products are math.sumprod).

    python benchmarks/python_layered.py
    python benchmarks/python_layered.py --python /usr/bin/python3.12 --python /usr/bin/python3.13

Prints one line per net: seconds to generate each form (value and Jacobian,
self-check included), microseconds per Jacobian call per interpreter, and the
ratio unrolled/layered (above 1: the layered form is faster).  The unrolled
form is generated up to UNROLLED_UP_TO parameters (it takes minutes beyond).
A measurement, not a test.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import symnet  # noqa: E402
from symnet.reference.finite_differences import sample_points  # noqa: E402

import nets  # noqa: E402

UNROLLED_UP_TO = 1000
NETS = ("3-10-1", "5-20-20-3", "2-64-64-64-1", "20-256-256-10")
POINTS = 20

#: Run in a fresh interpreter: best CPU time per jacobian call over POINTS points.
_TIMER = """
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("model", sys.argv[1])
model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(model)
points = json.loads(sys.argv[2])
best, calls = float("inf"), 1
while True:
    start = time.perf_counter()
    for _ in range(calls):
        for x in points:
            model.jacobian(x)
    elapsed = time.perf_counter() - start
    if elapsed > 0.05 or calls > 1 << 16:
        break
    calls *= 2
for _ in range(25):   # the best of many rounds of CPU time: the machine may be shared
    start = time.process_time()
    for _ in range(calls):
        for x in points:
            model.jacobian(x)
    best = min(best, (time.process_time() - start) / (calls * len(points)))
print(json.dumps({"seconds": best, "python": sys.version.split()[0]}))
"""


def generate(net, folder, strategy):
    start = time.perf_counter()
    symnet.generate(net, ["python"], folder, derivatives=("value", "jacobian"), name="model", strategy=strategy)
    return time.perf_counter() - start


def call_time(python, module, points):
    done = subprocess.run([python, "-c", _TIMER, str(module), json.dumps(points)], capture_output=True, text=True,
                          timeout=600, check=True)
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="*", default=list(NETS), choices=NETS)
    parser.add_argument("--python", action="append", default=[], help="another interpreter to time the modules in")
    args = parser.parse_args()
    pythons = [sys.executable] + args.python
    with tempfile.TemporaryDirectory() as scratch:
        for label in args.nets:
            net = nets.mlp(label)
            points = sample_points(net, POINTS, seed=1).tolist()
            strategies = ("layered", "unrolled") if net.parameter_count <= UNROLLED_UP_TO else ("layered",)
            line = [f"{label:>14} ({net.parameter_count} parameters)"]
            times = {}
            for strategy in strategies:
                folder = Path(scratch) / f"{label}_{strategy}"
                line.append(f"generate {strategy} {generate(net, folder, strategy):.2f} s")
                for python in pythons:
                    measured = call_time(python, folder / "model.py", points)
                    times[strategy, measured["python"]] = measured["seconds"]
            for (strategy, version), seconds in sorted(times.items(), key=lambda item: (item[0][1], item[0][0])):
                line.append(f"Python {version} {strategy} {seconds * 1e6:.1f} us")
            for version in sorted({version for _, version in times}):
                if ("unrolled", version) in times:
                    ratio = times["unrolled", version] / times["layered", version]
                    line.append(f"Python {version} unrolled/layered {ratio:.2f}")
            print("; ".join(line), flush=True)


if __name__ == "__main__":
    main()
