"""Benchmark: the two forms of symnet's layered Hessian in C, outer products (OuterSum)
and forward-over-reverse, on nets with fewer inputs than outputs and more, and which
one ``outer_form_is_cheaper`` picks.  Every form's Hessian is checked against the other
and against JAX's (where installed) before it is timed; gcc -O3 -march=native, one
thread.  The timings are interleaved: every round times every build once, the best of
the rounds is kept.

    python benchmarks/hessian_sweep_order.py                      # about 8 minutes
    python benchmarks/hessian_sweep_order.py --nets 3-64-64-20,20-64-64-3 --rounds 3
    python benchmarks/hessian_sweep_order.py --baseline /path/to/older/symnet/checkout

``--baseline``: also times the form that checkout's symnet generates (imported from that
folder in a subprocess), interleaved with this one's, for a before/after comparison.

A reverse-over-forward form is not built: with one reverse sweep per input tangent it
makes the n_out·n_in adjoint tangents of forward-over-reverse in the other order, the
same multiply-adds (the op count the table prints for forward-over-reverse).

This is a measurement, not a test: it asserts nothing about speed.
"""

import os

import one_thread  # noqa: E402,F401  (one thread for every library, before numpy)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import symnet  # noqa: E402
from symnet.layered import schedule  # noqa: E402
from symnet.reference.finite_differences import sample_points  # noqa: E402

import cbuild  # noqa: E402
import nets  # noqa: E402
import others  # noqa: E402

#: n_in < n_out and n_in > n_out at the same widths, nets where the other form is faster
#: (narrow layers after many inputs), and the four nets of nets.py.
NETS = ("3-64-64-20", "20-64-64-3", "20-16-16-16-3", "30-16-16-16-16-2", "40-8-8-8-1",
        "3-10-1", "5-20-20-3", "2-64-64-64-1", "20-256-256-10")
POINTS = {"20-256-256-10": 1_000}
CHECK_POINTS = 8
FORMS = {"outer": True, "forward-over-reverse": False}


def network(label):
    if label not in nets.SIZES:
        sizes = tuple(int(n) for n in label.split("-"))
        nets.SIZES[label] = sizes
        return nets.mlp(label, seed=sum(sizes))
    return nets.mlp(label)


@contextlib.contextmanager
def forced(outer):
    """The Hessian built as outer products (True) or forward-over-reverse (False)."""
    chosen = schedule._Builder.outer_form_is_cheaper
    schedule._Builder.outer_form_is_cheaper = lambda self: outer
    try:
        yield
    finally:
        schedule._Builder.outer_form_is_cheaper = chosen


def generate_here(net, folder, outer):
    with forced(outer):
        symnet.generate(net, ["c"], folder, derivatives=["hessian"], name="model", strategy="layered")


def generate_with(source, label, folder):
    """The Hessian of ``label`` as ``source``'s symnet generates it (in a subprocess that
    imports symnet from there, and the nets from here)."""
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import hessian_sweep_order as h, symnet; "
            f"symnet.generate(h.network({label!r}), ['c'], {str(folder)!r}, derivatives=['hessian'], "
            "name='model', strategy='layered')")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(source)})


def build(net, folder):
    size = net.n_outputs * net.n_inputs ** 2
    glue = cbuild.adapter(folder, "hessian", net.n_inputs, size // net.n_inputs, "model_hessian(x, jac);",
                          "model_hessian_batch(n, x, jac);", '#include "model.h"')
    return cbuild.compile_program(folder, [folder / "model.c", glue], "O3native", "bench", include=(folder,))


def results(net, program, folder, X):
    path = folder / "check.bin"
    np.ascontiguousarray(X).tofile(path)
    size = net.n_outputs * net.n_inputs ** 2
    single, batch = cbuild.run_check(program, path, len(X), size // net.n_inputs, net.n_inputs, folder)
    return single.reshape(len(X), net.n_outputs, net.n_inputs, net.n_inputs), batch.reshape(single.shape[0], -1)


def jax_hessians(net, X):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    f = others.raw_outputs(net, jnp.asarray, jnp.tanh)
    return np.asarray(jax.vmap(jax.hessian(f))(X))


def costs(net):
    """(multiply-adds of the outer products, of forward-over-reverse, which one is picked)."""
    from symnet.layered.network import layered_network
    builder = schedule._Builder(layered_network(net))
    outer, carried = builder.hessian_costs()
    return outer, carried, "outer" if builder.outer_form_is_cheaper() else "forward-over-reverse"


def measure(label, rounds, budget, baseline, scratch):
    net = network(label)
    X = sample_points(net, POINTS.get(label, 4_000), seed=7)
    folder = scratch / label
    folder.mkdir()
    points = folder / "points.bin"
    X.tofile(points)
    programs = {}
    for form, outer in FORMS.items():
        (folder / form).mkdir()
        generate_here(net, folder / form, outer)
        programs[form] = build(net, folder / form)
    if baseline:
        (folder / "baseline").mkdir()
        generate_with(baseline, label, folder / "baseline")
        programs["baseline"] = build(net, folder / "baseline")
    expected = jax_hessians(net, X[:CHECK_POINTS])
    if expected is None:
        expected = results(net, programs["outer"], folder / "outer", X[:CHECK_POINTS])[0]
    scale = np.abs(expected).max()
    for name, program in programs.items():
        for got in results(net, program, folder / (name if name in FORMS else "baseline"), X[:CHECK_POINTS]):
            error = np.abs(got.reshape(expected.shape) - expected).max() / scale
            if error > 1e-10:
                raise AssertionError(f"{label}: {name} off the reference by {error:.1e}")
            if name in FORMS and not np.array_equal(got.reshape(expected.shape),
                                                    np.swapaxes(got.reshape(expected.shape), -1, -2)):
                raise AssertionError(f"{label}: {name} not exactly symmetric")
    best = {name: [np.inf, np.inf] for name in programs}
    for _ in range(rounds):
        for name, program in programs.items():
            best[name] = [min(a, b) for a, b in zip(best[name], cbuild.run_time(program, points, budget))]
    return net, best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", default=",".join(NETS))
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (best kept)")
    parser.add_argument("--budget", type=float, default=0.1, help="seconds per build per round")
    parser.add_argument("--baseline", type=Path, help="an older symnet checkout to time beside this one")
    args = parser.parse_args(argv)
    print("| net | n_in vs n_out | multiply-adds per output: outer / fwd-over-rev | picked | outer one point"
          " / batch | fwd-over-rev one point / batch | fwd-over-rev / outer, one point / batch |"
          + (" picked / baseline, one point / batch |" if args.baseline else ""))
    print("|---|---|---|---|---|---|---|" + ("---|" if args.baseline else ""))
    with tempfile.TemporaryDirectory() as scratch:
        for label in args.nets.split(","):
            net, best = measure(label, args.rounds, args.budget, args.baseline, Path(scratch))
            outer_ops, carried_ops, picked = costs(net)
            relation = "<" if net.n_inputs < net.n_outputs else (">" if net.n_inputs > net.n_outputs else "=")
            o, f = best["outer"], best["forward-over-reverse"]
            row = (f"| {label} | {relation} | {outer_ops:,} / {carried_ops:,} | {picked} | "
                   f"{o[0] / 1000:.2f} / {o[1] / 1000:.2f} µs | {f[0] / 1000:.2f} / {f[1] / 1000:.2f} µs | "
                   f"{f[0] / o[0]:.2f} / {f[1] / o[1]:.2f} |")
            if args.baseline:
                b, p = best["baseline"], best[picked]
                row += f" {p[0] / b[0]:.2f} / {p[1] / b[1]:.2f} |"
            print(row, flush=True)
    print(f"\nbest of {args.rounds} interleaved rounds; gcc -O3 -march=native; batches of "
          f"{POINTS.get('20-256-256-10')} points for 20-256-256-10, 4,000 for the others")


if __name__ == "__main__":
    main()
