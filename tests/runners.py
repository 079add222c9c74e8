"""Build and run what every registered target generates, so that tests which must
cover all targets (numeric safety, hostile names, properties) iterate over
``symnet.emit.target_names()`` and call ``build(target, ...)``.

A runner turns the generated files into a ``Built`` whose ``evaluate(what, X)``
returns the target's own results for the points X, shaped
(n_points,) + shape of ``what``.  Targets that are documents rather than code
(LaTeX) have ``evaluate = None`` and a ``verify()`` that compiles them.  A
target without a runner makes these tests fail, naming the target: add its
runner here.
"""

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

import symnet
from symnet.emit.python_target import FUNCTION_NAMES

from helpers import import_file

_counter = [0]


@dataclass
class Built:
    """Generated code of one target, ready to run (or, for documents, to verify)."""

    target: str
    paths: tuple
    evaluate: Optional[Callable] = None     # (what, X) -> array (n_points,) + shape
    verify: Optional[Callable] = None       # () -> None, raises on failure

    def check(self):
        if self.verify is not None:
            self.verify()


def shape_of(net, what):
    n_in, n_out = net.n_inputs, net.n_outputs
    return {"value": (n_out,), "gradient": (n_in,), "jacobian": (n_out, n_in),
            "hessian": (n_out, n_in, n_in)}[what]


def _unique(prefix):
    _counter[0] += 1
    return f"{prefix}_{_counter[0]}"


def _python(net, folder, name, paths):
    module = import_file(folder / f"{name}.py", _unique(f"gen_{name}"))

    def evaluate(what, X):
        function = getattr(module, FUNCTION_NAMES[what])
        return np.array([function(list(map(float, x))) for x in np.asarray(X, dtype=float)], dtype=float)
    return Built("python", paths, evaluate)


def _numpy(net, folder, name, paths):
    module = import_file(folder / f"{name}_numpy.py", _unique(f"gen_{name}_numpy"))

    def evaluate(what, X):
        with np.errstate(all="ignore"):
            return np.asarray(getattr(module, FUNCTION_NAMES[what])(np.asarray(X, dtype=float)), dtype=float)
    return Built("numpy", paths, evaluate)


#: target name -> runner(net, folder, name, paths) -> Built
RUNNERS = {
    "python": _python,
    "numpy": _numpy,
}

#: targets that write documents, not code that computes
DOCUMENTS = frozenset({"latex"})


def build(target, net, folder, derivatives=("value", "jacobian", "hessian"), name="model", **options):
    """Generate ``target``'s code for ``net`` into ``folder`` and make it runnable."""
    if target not in RUNNERS:
        raise AssertionError(f"no test runner for target {target!r}: add one to tests/runners.py")
    folder.mkdir(parents=True, exist_ok=True)
    paths = tuple(symnet.generate(net, [target], folder, derivatives=derivatives, name=name, **options))
    return RUNNERS[target](net, folder, name, paths)


def variants(computing=True):
    """(target, strategy) for every registered target and each emission strategy it has;
    only targets that compute numbers when ``computing``."""
    pairs = []
    for target in symnet.emit.target_names():
        if computing and target in DOCUMENTS:
            continue
        pairs.extend((target, strategy) for strategy in symnet.emit.get_target(target).strategies)
    return tuple(pairs)


def variant_id(pair):
    return "-".join(pair)
