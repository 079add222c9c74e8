"""The public API and the driver whose body is the pipeline:
import -> symbolic -> derive -> simplify -> emit."""

import dataclasses
import math
from functools import cached_property
from pathlib import Path

import numpy as np
import sympy as sp

from .derive import DERIVATIVES, derivative_program
from .describe import describe
from .emit import GenerationRequest, get_target, target_names
from .emit.common import comment_text, safe_identifier
from .emit.layered_common import resolve_strategy
from .emit.numpy_target import ExactNumPyPrinter
from .errors import ModelFormatError, UnsupportedError
from .importers import load as _load
from .simplify import live_assignments, simplify
from .symbolic import SymbolicOptions, forward_program


def load(source, **options):
    """Load a model file (or supported Python object) as a ``Network``.

    Args:
        source: path to a model file (``.json``, ``.onnx``, ``.pt``/``.pth`` state dicts,
            pickles) or a Python object (``torch.nn.Module``, a fitted scikit-learn
            MLP or pipeline, ``onnx.ModelProto``).
        options: ``module=`` the torch module a state dict belongs to;
            ``trust_pickle=True`` to allow unpickling (runs code from the file).
    Returns:
        Network
    """
    return _load(source, **options)


class Derivative:
    """A derivative of a network's raw outputs with respect to its raw inputs.

    Attributes:
        what: "value", "gradient", "jacobian" or "hessian".
        network: the Network.
        program: the simplified straight-line program (after CSE).
        expressions: sympy Array of the closed-form expressions (no CSE).
    """

    def __init__(self, net, what, options=SymbolicOptions()):
        if what not in DERIVATIVES:
            raise UnsupportedError(f"unknown derivative {what!r} (choose from {', '.join(DERIVATIVES)})")
        if what == "gradient" and net.n_outputs != 1:
            raise UnsupportedError(
                f"the gradient needs a single-output network; this one has {net.n_outputs} outputs"
                " (use the jacobian)")
        self.what = what
        self.network = net
        self.options = options
        self.unsimplified = derivative_program(forward_program(net, options), what)

    @cached_property
    def program(self):
        return simplify(self.unsimplified)

    @property
    def shape(self):
        return self.unsimplified.blocks[0].shape

    @property
    def inputs(self):
        return self.unsimplified.inputs

    @cached_property
    def expressions(self):
        block = self.unsimplified.inlined()[0]
        return sp.Array(list(block.entries), block.shape)

    @cached_property
    def _numeric(self):
        if self.options.weights != "numeric":
            raise UnsupportedError("numeric evaluation needs numeric weights")
        # sympy's lambdify prints the unsimplified straight-line program itself:
        # an evaluation path independent of symnet's printers and templates.
        program = self.unsimplified
        assignments = [(a.target, a.expr) for a in live_assignments(program)]
        return sp.lambdify([list(self.inputs)], list(program.blocks[0].entries), modules=["numpy", {"math": math}],
                           printer=ExactNumPyPrinter, cse=lambda expressions: (assignments, list(expressions)))

    def __call__(self, X):
        """Evaluate for a batch X of shape (n_samples, n_inputs).

        Returns: (n_samples,) + shape, e.g. (n_samples, n_outputs, n_inputs) for the Jacobian.
        """
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.network.n_inputs:
            raise ModelFormatError(f"expected X of shape (n_samples, {self.network.n_inputs}), got {X.shape}")
        with np.errstate(over="ignore", under="ignore"):
            entries = self._numeric(list(X.T))
        columns = [np.broadcast_to(np.asarray(e, dtype=float), (X.shape[0],)) for e in entries]
        return np.stack(columns, axis=1).reshape((X.shape[0],) + tuple(self.shape))


def derive(net, what):
    """The ``what`` ("gradient", "jacobian", "hessian" or "value") of ``net``.

    Returns:
        Derivative: holds the sympy expressions, the simplified program, and
        evaluates numerically when called with a batch X.
    """
    return Derivative(net, what)


def default_derivatives(net):
    return ("value", "gradient", "jacobian") if net.n_outputs == 1 else ("value", "jacobian")


def generate(net, targets, out_dir, derivatives=None, name=None, precision="double", strategy="auto"):
    """Generate derivative code for ``net`` into ``out_dir``; returns the written paths in order.

    ``strategy``: "unrolled" (one scalar expression per entry), "layered" (weight arrays
    and loops or matrix products, for targets that have that form; the others stay
    unrolled) or "auto" (layered from ``LAYERED_FROM_PARAMETERS`` weights and biases on).
    """
    derivatives = tuple(_ordered(tuple(derivatives or default_derivatives(net)), net))
    targets = tuple(target_names()) if "all" in targets else tuple(targets)
    renderers = [get_target(t) for t in targets]
    chosen = resolve_strategy(strategy, net)
    strategies = [chosen if chosen in target.strategies else "unrolled" for target in renderers]
    if "unrolled" in strategies:
        programs = tuple((what, Derivative(net, what).program) for what in derivatives)
    else:
        programs = tuple((what, None) for what in derivatives)
    request = GenerationRequest(
        network=net,
        name=safe_identifier(name or net.name),
        programs=programs,
        header=tuple(describe(net, clean=comment_text)),
        precision=precision,
        derivatives=derivatives,
    )
    rendered = {}   # every target rendered before a file is written: a refusal leaves nothing behind
    for target, target_strategy in zip(renderers, strategies):
        rendered.update(sorted(target.render(dataclasses.replace(request, strategy=target_strategy)).items()))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in rendered.items():
        path = out_dir / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _ordered(derivatives, net):
    unknown = [d for d in derivatives if d not in DERIVATIVES]
    if unknown:
        raise UnsupportedError(f"unknown derivative {unknown[0]!r} (choose from {', '.join(DERIVATIVES)})")
    if "gradient" in derivatives and net.n_outputs != 1:
        raise UnsupportedError(
            f"the gradient needs a single-output network; this one has {net.n_outputs} outputs")
    return [d for d in DERIVATIVES if d in derivatives]
