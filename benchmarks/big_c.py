"""C generation and compilation of big networks: generation time (``symnet generate
--target c``, self-check included, in a fresh process), gcc -O2 time, source size and
peak memory, with the ratio of each to its goal.

Run:  python benchmarks/big_c.py [--only 2-512x21-1 ...]

Times are given as wall clock and as CPU time (user + system of the process); the
goals are checked against the CPU time, the steadier figure on a shared machine.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

#: label: (layer sizes, derivatives, goals {measure: limit})
NETS = {
    "2-512x21-1": ((2,) + (512,) * 21 + (1,), None,
                   {"generate_cpu_s": 20.0, "gcc_cpu_s": 30.0, "source_mb": 120.0}),
    "784-512-512-10": ((784, 512, 512, 10), None, {}),
    "2-1000-1000-1": ((2, 1000, 1000, 1), None, {}),
    "20-256-256-10 Hessian": ((20, 256, 256, 10), ("hessian",), {}),
}
#: 784-512-512-10 is generated within this many times the time of 2-1000-1000-1.
WIDE_RATIO_GOAL = 3.0

MAKE = """
import sys
import numpy as np
sys.path.insert(0, {repo!r})
from symnet import Input, Layer, Network, Output
from symnet.importers.json_format import save_json
sizes = {sizes!r}
rng = np.random.default_rng(0)
layers = []
for k in range(1, len(sizes)):
    weights = rng.normal(scale=1.5 / np.sqrt(sizes[k - 1]), size=(sizes[k], sizes[k - 1]))
    bias = rng.normal(scale=0.3, size=sizes[k])
    transfer = "purelin" if k == len(sizes) - 1 else "tansig"
    links = dict(input_weights=[(0, weights)]) if k == 1 else dict(layer_weights=[(k - 2, weights)])
    layers.append(Layer(sizes[k], transfer, bias, **links))
save_json(Network([Input("x", sizes[0])], layers, [Output("y", len(layers) - 1)], name="big"), sys.argv[1])
"""


def timed(command, **options):
    """(wall seconds, CPU seconds, peak MiB) of one child process (os.wait4: its own rusage)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, **options)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, command)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def measure(label, folder):
    sizes, derivatives, _ = NETS[label]
    model = folder / "net.json"
    subprocess.run([sys.executable, "-c", MAKE.format(repo=str(REPO), sizes=sizes), str(model)], check=True)
    command = [sys.executable, "-m", "symnet", "generate", str(model), "--target", "c", "--strategy", "layered",
               "--name", "big", "--out", str(folder / "c")]
    if derivatives:
        command += ["--derivatives", ",".join(derivatives)]
    gen_wall, gen_cpu, gen_peak = timed(command, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
                                        stdout=subprocess.DEVNULL)
    source = folder / "c" / "big.c"
    gcc_wall, gcc_cpu, gcc_peak = timed([shutil.which("gcc"), "-std=c99", "-O2", "-c", str(source), "-o",
                                         str(folder / "big.o")])
    return {"generate_s": gen_wall, "generate_cpu_s": gen_cpu, "generate_peak_mib": gen_peak,
            "gcc_s": gcc_wall, "gcc_cpu_s": gcc_cpu, "gcc_peak_mib": gcc_peak,
            "source_mb": source.stat().st_size / 1e6}


def report(label, result):
    goals = NETS[label][2]
    print(f"{label}: generate {result['generate_s']:.1f} s (CPU {result['generate_cpu_s']:.1f} s,"
          f" peak {result['generate_peak_mib']:.0f} MiB); gcc -O2 {result['gcc_s']:.1f} s"
          f" (CPU {result['gcc_cpu_s']:.1f} s); source {result['source_mb']:.1f} MB")
    for measure_name, limit in goals.items():
        value = result[measure_name]
        print(f"    {measure_name}: {value:.1f} against a goal of < {limit:g}: {value / limit:.2f}x"
              f" ({'met' if value < limit else 'MISSED'})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(NETS), help="nets to measure (default: all)")
    args = parser.parse_args(argv)
    results = {}
    for label in args.only or NETS:
        with tempfile.TemporaryDirectory() as folder:
            results[label] = measure(label, Path(folder))
        report(label, results[label])
    if {"784-512-512-10", "2-1000-1000-1"} <= set(results):
        ratio = results["784-512-512-10"]["generate_cpu_s"] / results["2-1000-1000-1"]["generate_cpu_s"]
        print(f"784-512-512-10 / 2-1000-1000-1 generation (CPU): {ratio:.2f}x against a goal of"
              f" <= {WIDE_RATIO_GOAL:g}x ({'met' if ratio <= WIDE_RATIO_GOAL else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
