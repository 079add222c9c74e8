"""Time to read hostile-sized inputs, per input size: each line prints the time, the time
per item and that per-item time as a ratio to the smallest size's (about 1 everywhere when
the growth is linear), and a baseline measured in the same run.

* JSON: an object of n keys through symnet's parser (repeated keys refused) against plain
  ``json.loads``;
* ONNX: a Gemm followed by a chain of n ReLUs, n Abs and n tanh, loaded as a Network;
* depth: a chain of n one-unit tanh layers generated as layered C, self-check included;
* MAT-file: the header walk over a compressed double array of n values (read up to the size
  limit), against ``scipy.io.loadmat`` of the same file; and the refusal of arrays over the
  limit, whose time does not depend on what they declare.

Run: PYTHONPATH=. python benchmarks/input_scaling.py [--quick]
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import symnet  # noqa: E402
from hostile_inputs import chain_model, json_object_text, node, write_mat_bomb  # noqa: E402
from symnet.errors import SizeLimitError  # noqa: E402
from symnet.importers import mat_sizes  # noqa: E402
from symnet.importers.json_format import parse  # noqa: E402


def best_time(run, rounds=3):
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def report(title, unit, sizes, measure):
    print(f"\n{title}")
    print(f"{unit:>12} {'time s':>9} {'ns/item':>10} {'per-item ratio':>15} {'baseline s':>11}")
    first = None
    for size in sizes:
        seconds, baseline = measure(size)
        per_item = seconds / size
        first = first or per_item
        base = "" if baseline is None else f"{baseline:11.3f}"
        print(f"{size:12d} {seconds:9.4f} {per_item * 1e9:10.1f} {per_item / first:15.2f} {base}")


def json_keys(size):
    text = json_object_text(size)
    return best_time(lambda: parse(text)), best_time(lambda: json.loads(text))


def onnx_chain(operator):
    symnet.load(chain_model([node(operator)] * 10))   # imports and caches warm before the first size

    def measure(size):
        model = chain_model([node(operator)] * size)
        return best_time(lambda: symnet.load(model), rounds=1), None
    return measure


def deep_chain(folder):
    import numpy as np

    def measure(depth):
        rng = np.random.default_rng(0)
        layers = [symnet.Layer(1, "tansig", rng.normal(size=1), [(0, rng.normal(size=(1, 2)))], [])]
        layers += [symnet.Layer(1, "tansig", rng.normal(size=1), [], [(i, rng.normal(size=(1, 1)))])
                   for i in range(depth - 1)]
        net = symnet.Network([symnet.Input("x", 2, [])], layers, [symnet.Output("y", depth - 1, [])])
        out = Path(folder) / f"deep{depth}"
        return best_time(lambda: symnet.generate(net, ["c"], out, strategy="layered"), rounds=1), None
    return measure


def mat_walk(folder):
    from scipy.io import loadmat

    def measure(size):
        path = Path(folder) / f"walk{size}.mat"
        write_mat_bomb(path, size // 1000, 1000)
        seconds = best_time(lambda: mat_sizes.check_variable_size(path, "symnet_network"))
        return seconds, best_time(lambda: loadmat(path))
    return measure


def mat_refusal(folder):
    def measure(size):
        path = Path(folder) / f"bomb{size}.mat"
        write_mat_bomb(path, size // 1000, 1000)

        def refuse():
            try:
                mat_sizes.check_variable_size(path, "symnet_network")
            except SizeLimitError:
                return
            raise AssertionError("not refused")
        return best_time(refuse), None
    return measure


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    quick = parser.parse_args().quick
    scale = 1 if quick else 4
    report("JSON object of n keys (baseline: json.loads without the repeated-key check)", "keys",
           [25_000 * scale * k for k in (1, 2, 4)], json_keys)
    for operator in ("Relu", "Abs", "Tanh"):
        report(f"ONNX Gemm followed by n {operator} (symnet.load)", "operators",
               [250 * scale * k for k in (1, 2, 4)], onnx_chain(operator))
    with tempfile.TemporaryDirectory() as folder:
        report("n one-unit layers generated as layered C (symnet.generate)", "layers",
               [125 * scale * k for k in (1, 2, 4)], deep_chain(folder))
        report("MAT-file header walk over n values (baseline: scipy.io.loadmat of the file)", "values",
               [1_000_000 * k for k in (1, 2, 4, 8)], mat_walk(folder))
        over = mat_sizes.MAX_VALUES
        report("MAT-file over the limit: refused from its header (n values declared)", "values",
               [over + 1000, over * 4, over * 64], mat_refusal(folder))


if __name__ == "__main__":
    main()
