"""How well symnet.unrolled.size predicts the unrolled form: estimate against the
measured size (sympy's count_ops of the straight-line program before and after
CSE, closed-form nodes) and the time to build, simplify and print it (C printer).

    python benchmarks/unrolled_size.py [--quick]
    python benchmarks/unrolled_size.py --orders

A measurement, not a test: the calibration in symnet/unrolled/size.py's
docstring comes from its output.  ``--quick`` leaves out the nets that take
more than a few seconds.  Each row also states the estimated seconds and their
ratio to the measured ones.  ``--orders``: the estimate of partial derivatives of
order 3 and 4 and of a user expression's value, gradient and Hessian against the
operations of the program built (before CSE) and the time to build, simplify and print it.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from symnet import Input, Layer, MapMinMax, Network, Output  # noqa: E402
from symnet.unrolled.derive import derivative_program  # noqa: E402
from symnet.emit.c.printer import ExactCPrinter  # noqa: E402
from symnet.emit.common import print_program  # noqa: E402
from symnet.emit.latex.render import closed_form_size  # noqa: E402
from symnet.unrolled.simplify import simplify  # noqa: E402
from symnet.unrolled.symbolic import forward_program  # noqa: E402
from symnet.unrolled.size import estimate  # noqa: E402

#: (label, layer sizes, hidden transfer, last transfer, cascade, derivative); quick ones first.
CASES = (
    ("3-10-1 tansig", (3, 10, 1), "tansig", "purelin", False, "jacobian"),
    ("3-10-1 tansig", (3, 10, 1), "tansig", "purelin", False, "hessian"),
    ("4-12-2 logsig", (4, 12, 2), "logsig", "purelin", False, "jacobian"),
    ("4-12-2 logsig", (4, 12, 2), "logsig", "purelin", False, "hessian"),
    ("4-8-3 softmax", (4, 8, 3), "tansig", "softmax", False, "jacobian"),
    ("4-8-3 softmax", (4, 8, 3), "tansig", "softmax", False, "hessian"),
    ("3-10-10-1 poslin", (3, 10, 10, 1), "poslin", "purelin", False, "jacobian"),
    ("3-8-8-1 cascade", (3, 8, 8, 1), "tansig", "purelin", True, "jacobian"),
    ("3-8-8-1 cascade", (3, 8, 8, 1), "tansig", "purelin", True, "hessian"),
    ("5-20-3 tansig", (5, 20, 3), "tansig", "purelin", False, "hessian"),
    ("5-20-20-3 tansig", (5, 20, 20, 3), "tansig", "purelin", False, "value"),
    ("5-20-20-3 tansig", (5, 20, 20, 3), "tansig", "purelin", False, "jacobian"),
    ("4-32-32-2 tansig", (4, 32, 32, 2), "tansig", "purelin", False, "jacobian"),
    ("2-16-16-1 softplus", (2, 16, 16, 1), "softplus", "purelin", False, "hessian"),
    ("5-20-20-3 tansig", (5, 20, 20, 3), "tansig", "purelin", False, "hessian"),
    ("2-64-64-64-1 tansig", (2, 64, 64, 64, 1), "tansig", "purelin", False, "jacobian"),
    ("10-50-50-5 tansig", (10, 50, 50, 5), "tansig", "purelin", False, "jacobian"),
)

QUICK = 10


def network(sizes, hidden, last, cascade, seed=0):
    rng = np.random.default_rng(seed)
    n_in = sizes[0]
    layers = []
    for k in range(1, len(sizes)):
        bias = rng.normal(size=sizes[k])
        transfer = last if k == len(sizes) - 1 else hidden
        weights = rng.normal(size=(sizes[k], sizes[k - 1]))
        inputs = [(0, weights)] if k == 1 else []
        sources = [] if k == 1 else [(k - 2, weights)]
        if cascade and k > 1:
            inputs = [(0, rng.normal(size=(sizes[k], n_in)))]
        layers.append(Layer(sizes[k], transfer, bias, inputs, sources))
    steps = [MapMinMax(rng.uniform(-5, 5, n_in), rng.uniform(0.1, 2, n_in), -1.0)]
    out_steps = [MapMinMax(rng.uniform(-5, 5, sizes[-1]), rng.uniform(0.1, 2, sizes[-1]), -1.0)]
    return Network([Input("x", n_in, steps)], layers, [Output("y", len(layers) - 1, out_steps)])


def measure(net, what):
    start = time.perf_counter()
    predicted = estimate(net, (what,))
    estimate_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    program = derivative_program(forward_program(net), what)
    built = time.perf_counter()
    simplified = simplify(program)
    simplified_at = time.perf_counter()
    print_program(simplified, ExactCPrinter())
    printed = time.perf_counter()
    nodes = closed_form_size(simplified) if predicted.closed_form[what] < 1e6 else None
    return {"estimate": predicted.operations, "estimate_ms": estimate_ms, "seconds": predicted.seconds, "ops": program.operation_count(),
            "cse_ops": simplified.operation_count(), "closed_estimate": predicted.closed_form[what],
            "closed": nodes, "build": built - start, "simplify": simplified_at - built,
            "print": printed - simplified_at}


#: (layer sizes, hidden transfer) of the ``--orders`` measurement.
ORDER_CASES = (((3, 10, 1), "tansig"), ((2, 8, 8, 1), "tansig"), ((3, 5, 4, 2), "logsig"),
               ((2, 6, 6, 1), "softplus"), ((2, 6, 6, 1), "poslin"), ((2, 6, 6, 1), "elu"), ((2, 6, 6, 1), "swish"),
               ((2, 12, 12, 12, 1), "tansig"))

#: The user expression of ``--orders`` (reads order 2: its Hessian needs order 4).
RESIDUAL = "r = y1_x2 + y1*y1_x1 - 0.1*y1_x1x1"


def coordinates_network(hidden, seed=7):
    """Inputs x, y, t (one number each), two hidden layers of 6 and three outputs: the
    square network of the tests (``hidden`` tansig, logsig) and a Navier-Stokes PINN (swish)."""
    rng = np.random.default_rng(seed)
    inputs = [Input(name, 1, (MapMinMax([-2.0], [0.7], [-1.0]),)) for name in ("x", "y", "t")]
    layers = [Layer(6, hidden[0], rng.normal(size=6), [(k, rng.normal(size=(6, 1))) for k in range(3)]),
              Layer(6, hidden[1], rng.normal(size=6), [], [(0, rng.normal(size=(6, 6)))]),
              Layer(3, "purelin", rng.normal(size=3), [], [(1, rng.normal(size=(3, 6)))])]
    return Network(inputs, layers, [Output("u", 2)])


#: (label, network, expression, parameters, derivatives of it) measured with ``--orders``
#: besides the ORDER_CASES: an order-5 expression gradient and a swish residual's Hessian.
EXPRESSION_CASES = (
    ("3-6-6-3 tansig-logsig (x, y, t)", lambda: coordinates_network(("tansig", "logsig")), "r = y1_xxyt", {},
     ("value", "gradient")),
    ("3-6-6-3 swish (x, y, t)", lambda: coordinates_network(("swish", "swish")),
     "mom = y1_t + la*(y1*y1_x + y2*y1_y) + y3_x - lb*(y1_xx + y1_yy)", {"la": 1, "lb": 1},
     ("value", "gradient", "hessian")),
)


def measure_program(net, name):
    """Estimate against the built program: operations before CSE, seconds to build, simplify
    and print it (C printer)."""
    predicted = estimate(net, (name,))
    start = time.perf_counter()
    program = derivative_program(forward_program(net), name)
    built = time.perf_counter()
    simplified = simplify(program)
    print_program(simplified, ExactCPrinter())
    seconds = time.perf_counter() - start
    return predicted, program.operation_count(), built - start, seconds


def _order_row(label, name, net):
    predicted, ops, build, seconds = measure_program(net, name)
    print(f"| {label} | {name} | {predicted.operations:,} | {ops:,} | {predicted.operations / ops:.2f}"
          f" | {predicted.seconds:.1f} | {build:.1f} / {seconds:.1f} | {predicted.seconds / seconds:.2f} |", flush=True)


def orders():
    from symnet.api import user_expressions
    print("| net | derivative | estimate | ops before CSE | ratio | est. s | build / all s | time ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for sizes, hidden in ORDER_CASES:
        net = network(sizes, hidden, "purelin", False)
        text = RESIDUAL if hidden != "poslin" else RESIDUAL.replace(" - 0.1*y1_x1x1", "")   # kinks: order 1
        names = ("d3y1_dx1_dx1_dx2", "d4y1_dx1_dx1_dx2_dx2") + user_expressions(net, (text,), (), hessian=True)
        for name in names:
            _order_row(f"{'-'.join(map(str, sizes))} {hidden}", name, net)
    for label, make, text, parameters, whats in EXPRESSION_CASES:
        net = make()
        for name in user_expressions(net, (text,), tuple(parameters.items()), hessian="hessian" in whats):
            if name.spec.what in whats:
                _order_row(label, name, net)


def main(quick):
    print("| net | derivative | estimate (ms) | ops before CSE | ratio | ops after CSE | closed form est. / actual"
          " | build + simplify + print s | est. s | time ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, sizes, hidden, last, cascade, what in CASES[:QUICK] if quick else CASES:
        row = measure(network(sizes, hidden, last, cascade), what)
        total = row["build"] + row["simplify"] + row["print"]
        closed = "-" if row["closed"] is None else f"{row['closed']:,}"
        print(f"| {label} | {what} | {row['estimate']:,} ({row['estimate_ms']:.2f}) | {row['ops']:,}"
              f" | {row['estimate'] / row['ops']:.2f} | {row['cse_ops']:,}"
              f" | {row['closed_estimate']:,} / {closed}"
              f" | {row['build']:.1f} + {row['simplify']:.1f} + {row['print']:.1f} = {total:.1f}"
              f" | {row['seconds']:.1f} | {row['seconds'] / total:.2f} |", flush=True)


if __name__ == "__main__":
    if "--orders" in sys.argv[1:]:
        orders()
    else:
        main("--quick" in sys.argv[1:])
