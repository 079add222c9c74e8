"""Benchmark: symnet's layered C Hessians (one point per call and batch, exact and
fast activations) against jax.jit(hessian), jax.jit(vmap(hessian)) and torch.func,
on the four nets of nets.py; and the Jacobian batch of 2-64-64-64-1 in both modes
against jax.jit(vmap(jacrev)).  Every result is checked against JAX's before it is
timed.  Everything runs on one thread, compiled with gcc -O3 -march=native.

The timings are interleaved: every round times every backend once, and the best of
the rounds is kept, so that on a shared machine every backend sees the same slow and
fast spells.

    python benchmarks/hessian_vs_jax.py                 # about 10 minutes (most in 20-256-256-10)
    python benchmarks/hessian_vs_jax.py --nets 3-10-1 --rounds 2

This is a measurement, not a test: it asserts nothing about speed.
"""

import one_thread  # noqa: E402,F401  (one thread for every library, before numpy)

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cbuild  # noqa: E402
import nets  # noqa: E402
import others  # noqa: E402
import timing  # noqa: E402

JACOBIAN_NET = "2-64-64-64-1"
CHECK_POINTS = 8
#: Largest accepted error relative to the largest entry of JAX's result.
TOLERANCE = {"exact": 1e-10, "fast": 1e-10}


@dataclass
class Row:
    label: str
    what: str
    evaluate: Callable            # X -> results (n, ...) of every mode, a list
    times: Callable               # budget -> (single ns, batch ns), None where absent
    best: dict = field(default_factory=dict)
    error: float = 0.0


def symnet_c_row(net, build, what, activations, points_file):
    folder = build / f"symnet_{what}_{activations}"
    program, seconds, _ = cbuild.symnet_program(net, folder, what, activations, "O3native")
    size = net.n_outputs * net.n_inputs ** (2 if what == "hessian" else 1)

    def evaluate(X):
        path = folder / "check.bin"
        np.ascontiguousarray(X).tofile(path)
        return list(cbuild.run_check(program, path, len(X), size // net.n_inputs, net.n_inputs, folder))

    row = Row(f"symnet C layered, {activations}", what, evaluate,
              lambda budget: cbuild.run_time(program, points_file, budget))
    row.best["generate_s"] = seconds
    return row


def python_row(label, what, single, batch, X):
    def times(budget):
        one = timing.best_seconds(single, X[0], budget) * 1e9 if single else None
        many = timing.best_seconds(batch, X, budget) * 1e9 / len(X) if batch else None
        return one, many

    def evaluate(Z):
        return ([np.array([single(z) for z in Z])] if single else []) + ([batch(Z)] if batch else [])
    return Row(label, what, evaluate, times)


def jax_rows(net, X):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    f = others.raw_outputs(net, jnp.asarray, jnp.tanh)
    hessian, vmapped = jax.jit(jax.hessian(f)), jax.jit(jax.vmap(jax.hessian(f)))
    jacobian = jax.jit(jax.vmap(jax.jacrev(f)))
    return {"hessian": python_row("jax.jit(hessian) / jit(vmap(hessian))", "hessian",
                                  lambda x: np.asarray(hessian(x).block_until_ready()),
                                  lambda Z: np.asarray(vmapped(Z).block_until_ready()), X),
            "jacobian": python_row("jax.jit(vmap(jacrev))", "jacobian", None,
                                   lambda Z: np.asarray(jacobian(Z).block_until_ready()), X)}


def torch_row(net, X):
    import torch
    from torch.func import hessian, vmap
    torch.set_num_threads(1)
    f = others.raw_outputs(net, lambda v: torch.tensor(np.array(v)), torch.tanh)
    single, batch = hessian(f), vmap(hessian(f))
    return python_row("torch.func hessian / vmap(hessian)", "hessian",
                      lambda x: single(torch.as_tensor(x)).numpy(),
                      lambda Z: batch(torch.as_tensor(Z)).numpy(), X)


def available(name):
    if nets.available(name):
        return True
    print(f"({name} not installed: skipped)")
    return False


def rows_of(label, build, include):
    net = nets.mlp(label)
    X, points_file = nets.batch_points(net, label, build)
    whats = ("hessian", "jacobian") if label == JACOBIAN_NET else ("hessian",)
    rows = [symnet_c_row(net, build, what, activations, points_file)
            for what in whats for activations in ("exact", "fast")]
    reference = None
    if "jax" in include:
        made = jax_rows(net, X)
        rows += [made[what] for what in whats]
        reference = {what: made[what].evaluate(X[:CHECK_POINTS])[-1] for what in whats}
    if "torch" in include:
        rows.append(torch_row(net, X))
    for row in rows:
        if reference is not None:
            expected = reference[row.what].reshape(CHECK_POINTS, -1)
            row.error = max(float(np.max(np.abs(r.reshape(CHECK_POINTS, -1) - expected)) / np.max(np.abs(expected)))
                            for r in row.evaluate(X[:CHECK_POINTS]))
            if row.error > 1e-10:
                raise AssertionError(f"{label}: {row.label} {row.what} off JAX's by {row.error:.1e}")
    return rows


def measure(rows, rounds, budget):
    for _ in range(rounds):
        for row in rows:
            for key, nanoseconds in zip(("single_ns", "batch_ns"), row.times(budget)):
                if nanoseconds is not None:
                    row.best[key] = min(row.best.get(key, np.inf), nanoseconds)


def table(label, rows):
    base = {what: next(r for r in rows if r.what == what).best["single_ns"] for what in {r.what for r in rows}}
    lines = [f"\n{label}", f"| {'what':8s} | {'backend':40s} | one point | ratio | batch, per point | ratio |",
             "|---|---|---:|---:|---:|---:|"]
    for row in rows:
        single, batch = row.best.get("single_ns"), row.best.get("batch_ns")
        cells = [f"{value / 1000:9.2f} µs | {value / base[row.what]:5.2f}" if value else "— | —"
                 for value in (single, batch)]
        lines.append(f"| {row.what:8s} | {row.label:40s} | {cells[0]} | {cells[1]} |")
    own = [f"{r.label} {r.what}: {r.best['batch_ns'] / r.best['single_ns']:.2f}" for r in rows
           if r.best.get("single_ns") and r.best.get("batch_ns")]
    lines.append("batch per point / own one point: " + "; ".join(own))
    generated = [f"{r.label} {r.what}: {r.best['generate_s']:.2f} s" for r in rows if "generate_s" in r.best]
    lines.append("generation: " + "; ".join(generated))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", default=",".join(nets.SIZES), help="comma-separated, from " + ", ".join(nets.SIZES))
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (best kept)")
    parser.add_argument("--budget", type=float, default=0.1, help="seconds per backend per round")
    args = parser.parse_args(argv)
    include = [name for name in ("jax", "torch") if available(name)]
    with tempfile.TemporaryDirectory() as scratch:
        for label in args.nets.split(","):
            build = Path(scratch) / label
            build.mkdir()
            rows = rows_of(label, build, include)
            measure(rows, args.rounds, args.budget)
            print(table(label, rows), flush=True)
    print("\nratios: to symnet C layered exact, one point per call, of the same derivative;"
          f" best of {args.rounds} interleaved rounds")


if __name__ == "__main__":
    main()
