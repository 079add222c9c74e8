"""The Python API's speed: ``symnet.derive(net, what)(X)``, setup included, on the nets
that took minutes through the closed form, and its batch Jacobian against a
hand-written vectorized NumPy Jacobian and the generated NumPy module.

    python benchmarks/api_speed.py

Prints, from one run: seconds for a fresh ``derive(net, what)`` and its call (the
best of ROUNDS, each from a new Derivative), and for the four benchmark nets the
time per point of a batch Jacobian (BATCH points) with the ratios to hand NumPy,
every Jacobian checked against the hand one first.  One thread.  A measurement,
not a test: it asserts nothing about speed.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import importlib.util  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import symnet  # noqa: E402
from symnet import Input, Layer, MapMinMax, Network, Output, RemoveConstantRows  # noqa: E402
from symnet.reference.finite_differences import compare, sample_points  # noqa: E402

import nets  # noqa: E402
import timing  # noqa: E402

ROUNDS = 3
BATCH = 10_000


def wide_net():
    """2-512-512-1 tanh MLP, mapminmax on the inputs."""
    rng = np.random.default_rng(512)
    layers = [Layer(512, "tansig", rng.normal(size=512), [(0, rng.normal(size=(512, 2)))]),
              Layer(512, "tansig", rng.normal(scale=0.3, size=512),
                    layer_weights=[(0, rng.normal(scale=1 / 24, size=(512, 512)))]),
              Layer(1, "purelin", rng.normal(size=1), layer_weights=[(1, rng.normal(scale=1 / 24, size=(1, 512)))])]
    steps = [MapMinMax(np.array([-3.0, 5.0]), np.array([0.5, 2.0]), -1.0)]
    return Network([Input("x", 2, steps)], layers, [Output("y", 2)], name="wide_2_512_512_1")


def autoencoder_net():
    """318-10-318 (tanh, linear) with removeconstantrows and mapminmax on both sides:
    18 of the 318 rows are constant in the training data, on the inputs and the outputs."""
    rng = np.random.default_rng(318)
    keep = tuple(sorted(rng.choice(318, size=300, replace=False).tolist()))

    def minmax():
        return MapMinMax(rng.uniform(-5, 5, 300), rng.uniform(0.1, 2, 300), -1.0)
    layers = [Layer(10, "tansig", rng.normal(size=10), [(0, rng.normal(scale=0.1, size=(10, 300)))]),
              Layer(300, "purelin", rng.normal(size=300), layer_weights=[(0, rng.normal(size=(300, 10)))])]
    return Network([Input("x", 318, [RemoveConstantRows(318, keep), minmax()])], layers,
                   [Output("y", 1, [RemoveConstantRows(318, keep, tuple(rng.normal(size=18))), minmax()])],
                   name="autoencoder_318_10_318")


#: (label, network builder, derivative, points, goal in seconds)
SETUP_CASES = (
    ("2-64-64-64-1 Hessian", lambda: nets.mlp("2-64-64-64-1"), "hessian", 1000, 1.0),
    ("2-512-512-1 Jacobian", wide_net, "jacobian", 1000, 2.0),
    ("318-10-318 Jacobian", autoencoder_net, "jacobian", 20, 1.0),
)


def fresh_derivative_seconds(net, what, X):
    """Best of ROUNDS: a new Derivative built and called once on X."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        symnet.derive(net, what)(X)
        best = min(best, time.perf_counter() - start)
    return best


def generated_jacobian(net, folder):
    symnet.generate(net, ["numpy"], folder, derivatives=["jacobian"], name="model", strategy="layered")
    spec = importlib.util.spec_from_file_location(f"api_speed_{net.name}", str(folder / "model_numpy.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.jacobian


def batch_times(net, X, folder):
    """{mode: best seconds per point} for the batch Jacobian, the modes timed in
    interleaved rounds; each checked against the hand-written Jacobian first."""
    hand = nets.hand_numpy_jacobian(net)
    functions = {"hand NumPy": hand, "derive()": symnet.derive(net, "jacobian"),
                 "generated NumPy": generated_jacobian(net, folder)}
    expected = hand(X)
    for mode, function in functions.items():
        error = compare(function(X), expected).max_rel_error
        if error > 1e-12:
            raise SystemExit(f"{net.name}: {mode} differs from hand NumPy by {error:.1e}")
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(ROUNDS):
        for mode, function in functions.items():
            best[mode] = min(best[mode], timing.best_seconds(function, X, budget=0.5, repeats=3) / len(X))
    return best


def main():
    print(f"derive(net, what)(X), setup included (best of {ROUNDS}, each from a new Derivative):")
    for label, build, what, count, goal in SETUP_CASES:
        net = build()
        seconds = fresh_derivative_seconds(net, what, sample_points(net, count))
        print(f"  {label:24s} {count:5d} points  {seconds:7.3f} s   (goal < {goal:g} s)")
    print(f"\nbatch Jacobian, {BATCH} points, time per point (ratio to hand NumPy; goal derive() <= 1.5x):")
    with tempfile.TemporaryDirectory() as folder:
        for label in nets.SIZES:
            net = nets.mlp(label)
            best = batch_times(net, sample_points(net, BATCH), Path(folder) / net.name)
            hand = best["hand NumPy"]
            cells = "   ".join(f"{mode} {seconds * 1e9:8.0f} ns ({seconds / hand:4.2f}x)"
                               for mode, seconds in best.items())
            print(f"  {label:14s} {cells}")


if __name__ == "__main__":
    main()
