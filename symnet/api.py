"""The public API and the driver whose body is the pipeline:
import -> symbolic -> derive -> simplify -> emit."""

import dataclasses
import math
from functools import cached_property

import numpy as np
import sympy as sp

from . import progress
from .describe import describe
from .emit import GenerationRequest, backends, get_target, target_names
from .emit.common import comment_text, reserved_words, safe_identifier
from .emit.layered_common import choose_strategy, layered_programs
from .emit.numpy.function import layered_numpy_function
from .emit.numpy.printer import ExactNumPyPrinter
from .emit.step import render_step
from .errors import ModelFormatError, UnsupportedError
from .expressions import ExpressionDerivative
from .ir.derivative_spec import NAMES, WHOLE, parse_derivative, parse_derivatives, spec_of
from .ir.expression_spec import expression_specs, header_lines
from .ir.transfer import piecewise_linear_transfers
from .importers import load as _load
from .ir.output_map import has_output_map
from .layered.directional import layered_order
from .layered.fast import ACTIVATION_MODES
from .layered.network import writes_transfers_of
from .output import write_files
from .unrolled.derive import derivative_program, unrolled_builds
from .unrolled.simplify import live_assignments, simplify
from .unrolled.size import require_unrolled_fits
from .unrolled.symbolic import SymbolicOptions, forward_program, input_symbols


def load(source, **options):
    """Load a model file (or supported Python object) as a ``Network``.

    Args:
        source: path to a model file (``.json``, ``.onnx``, ``.pt``/``.pth`` state dicts,
            pickles) or a Python object (``torch.nn.Module``, a fitted scikit-learn
            MLP or pipeline, ``onnx.ModelProto``).
        options: ``module=`` the torch module a state dict belongs to;
            ``input_size=`` the features of each tensor argument of a torch module whose
            forward accepts several sizes (one number, one per argument, or a dict by name;
            ``input_sizes=`` by name for files);
            ``trust_pickle=True`` to allow unpickling (runs code from the file).
    Returns:
        Network
    """
    return _load(source, **options)


class Derivative:
    """A derivative of a network's raw outputs with respect to its raw inputs.

    Calling it evaluates the layered NumPy code that ``symnet generate`` writes for
    the NumPy target, compiled in process once per Derivative (see
    ``symnet.emit.numpy.function``): no sympy at call time, and a 2-512-512-1
    Jacobian builds in a fraction of a second.  The closed form is built only when
    ``program`` or ``expressions`` is asked for.

    Attributes:
        what: the canonical name (symnet.ir.derivative_spec): "value", "gradient",
            "jacobian", "hessian", "jvp", "vjp", "hvp", "laplacian", "divergence" or a
            partial derivative such as "d2y1_dx1_dx2" (asked for as "d2y1/dx1dx2").
        spec: its DerivativeSpec; ``spec.extra_arguments`` are the arguments after X.
        network: the Network.
        shape: the derivative's shape for one point, e.g. (n_outputs, n_inputs).
        inputs: the sympy symbols x_0 ... of the raw inputs.
        program: the simplified straight-line program (after CSE); built on first use.
        expressions: sympy Array of the closed-form expressions (no CSE); built on first use.
    """

    def __init__(self, net, what, options=SymbolicOptions(), allow_large_unrolled=False):
        if getattr(what, "spec", None) is not None:   # a user expression's (symnet.ir.expression_spec)
            self.spec, self.what = what.spec, what
        else:
            self.spec = parse_derivative(what, net)
            self.what = self.spec.name
        self.network = net
        self.options = options
        self.allow_large_unrolled = allow_large_unrolled

    @cached_property
    def unsimplified(self):
        """The unrolled derivative program before simplification (the closed form's source)."""
        _require_unrolled(self.what)
        return derivative_program(forward_program(self.network, self.options), self.what)

    @cached_property
    def program(self):
        _require_unrolled_fits(self.network, (self.what,), self.allow_large_unrolled)
        return simplify(self.unsimplified)

    @cached_property
    def expressions(self):
        _require_unrolled_fits(self.network, (self.what,), self.allow_large_unrolled)
        block = self.unsimplified.inlined()[0]
        return sp.Array(list(block.entries), block.shape)

    @property
    def shape(self):
        return self.spec.shape(self.network.n_inputs, self.network.n_outputs)

    @property
    def inputs(self):
        return input_symbols(self.network.n_inputs)

    @cached_property
    def _evaluator(self):
        """X (n_samples, n_inputs) -> (n_samples,) + shape."""
        if self.options.weights != "numeric":
            raise UnsupportedError("numeric evaluation needs numeric weights")
        try:
            return layered_numpy_function(self.network, self.what)
        except UnsupportedError:
            if not unrolled_builds(self.what):
                raise
            _require_unrolled_fits(self.network, (self.what,), self.allow_large_unrolled)
            # Today the layered form holds every network the closed form does (both refuse an
            # output's removeconstantrows without the removed values); a processing step or
            # transfer function added to the IR before the layered form learns it would land
            # here and still evaluate, through the closed form: exact, slow on large nets.
            return self._closed_form_evaluator

    @cached_property
    def _closed_form_evaluator(self):
        """The unrolled closed form, evaluated by sympy's lambdify: a path independent of
        symnet's layered steps, printers and templates (the tests' reference)."""
        program = self.unsimplified
        assignments = [(a.target, a.expr) for a in live_assignments(program)]
        arguments = [list(self.inputs)] + [list(symbols) for _, symbols in program.arguments]
        function = sp.lambdify(arguments, list(program.blocks[0].entries),
                               modules=["numpy", {"math": math}], printer=ExactNumPyPrinter,
                               cse=lambda expressions: (assignments, list(expressions)))

        def evaluate(X, *extra):
            values = function(list(X.T), *[list(np.asarray(a, dtype=float).T) for a in extra])
            columns = [np.broadcast_to(np.asarray(e, dtype=float), (X.shape[0],)) for e in values]
            return np.stack(columns, axis=1).reshape((X.shape[0],) + tuple(self.shape))
        return evaluate

    def __call__(self, X, *arguments):
        """Evaluate for a batch X of shape (n_samples, n_inputs).

        Args:
            arguments: the extra arguments of ``spec`` (jvp, hvp: V of shape (n_samples, n_inputs),
                one direction per point; vjp: W of shape (n_samples, n_outputs)).
        Returns: (n_samples,) + shape, e.g. (n_samples, n_outputs, n_inputs) for the Jacobian,
            (n_samples, 1) for the divergence and a partial derivative.
        """
        expected = self.spec.extra_arguments
        if len(arguments) != len(expected):
            names = ", ".join(name.upper() for name, _ in expected) or "none"
            raise UnsupportedError(f"{self.what} takes X and {len(expected)} more arguments ({names}),"
                                   f" not {len(arguments)}")
        return _evaluate_batch(self._evaluator, self.network, X, arguments, expected)


def _evaluate_batch(evaluator, net, X, arguments=(), expected=()):
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != net.n_inputs:
        raise ModelFormatError(f"expected X of shape (n_samples, {net.n_inputs}), got {X.shape}")
    checked = []
    for argument, (name, size) in zip(arguments, expected):
        argument = np.asarray(argument, dtype=float)
        count = net.n_inputs if size == "inputs" else net.n_outputs
        if argument.shape != (X.shape[0], count):
            raise ModelFormatError(f"expected {name.upper()} of shape ({X.shape[0]}, {count}), got {argument.shape}")
        checked.append(argument)
    with np.errstate(over="ignore", under="ignore"):
        return evaluator(X, *checked)


def _closed_form(net, what):
    """``f(X, *arguments)`` evaluating ``what`` through the unrolled closed form (sympy's lambdify)
    instead of the layered code: slow from a few thousand weights on, kept as an independent reference."""
    derivative = Derivative(net, what)
    return lambda X, *arguments: _evaluate_batch(derivative._closed_form_evaluator, net, X, arguments,
                                                 derivative.spec.extra_arguments)


def derive(net, what, allow_large_unrolled=False, expression=None, parameters=()):
    """The ``what`` of ``net``: "value", "gradient", "jacobian", "hessian", "jvp", "vjp",
    "hvp", "laplacian", "divergence" or a partial derivative such as "d2y1/dx1dx2"
    (docs/derivatives.md has the grammar).  ``derive(net, "jvp")(X, V)`` takes the
    direction V besides X, ``derive(net, "vjp")(X, W)`` the weights W of the outputs.

    ``allow_large_unrolled``: build ``.program`` and ``.expressions`` even when their
    estimated size is over ``symnet.unrolled.size.UNROLLED_OPERATION_LIMIT``.

    ``expression``: a user expression of the outputs and their partial derivatives
    (``"cost = sum((y - t)**2)"``, ``"r = y_t + y*y_x - nu*y_xx"``; symnet.ir.user_expression),
    whose "value", "gradient" or "hessian" with respect to the raw inputs is returned as a
    ``symnet.expressions.ExpressionDerivative``; ``parameters``: {name: size} of the names
    of the expression that are neither outputs nor derivatives, passed after X in that order.

    Returns:
        Derivative: evaluates numerically when called with a batch X (through the
        layered NumPy code); builds the sympy expressions and the simplified
        program when they are first asked for.
    """
    if expression is not None:
        return ExpressionDerivative(net, what, expression, parameters, allow_large_unrolled)
    return Derivative(net, what, allow_large_unrolled=allow_large_unrolled)


def default_derivatives(net):
    return ("value", "gradient", "jacobian") if net.n_outputs == 1 else ("value", "jacobian")


def generate(net, targets, out_dir, derivatives=None, name=None, precision="double", strategy="auto",
             allow_large_unrolled=False, ode_states=0, activations="exact", expressions=(), parameters=()):
    """Generate derivative code for ``net`` into ``out_dir``; returns the written paths in order.

    ``expressions``: user expressions of the outputs and their partial derivatives
    (``"cost = sum((y - t)**2)"``, ``"r = y_t + y*y_x - nu*y_xx"``; symnet.ir.user_expression),
    each emitted as its value and its gradient with respect to the raw inputs, and its
    Hessian when ``derivatives`` names "hessian"; with expressions, ``derivatives`` are the
    network's own derivatives emitted besides (none when not given).  ``parameters``:
    ((name, size), ...) or {name: size}, the names of the expressions that are neither
    outputs nor derivatives, extra arguments of the generated functions after x.  Built by
    either strategy, "auto" choosing as for the network's own derivatives (docs/derivatives.md).

    ``strategy``: "unrolled" (one scalar expression per entry), "layered" (weight arrays
    and loops or matrix products, for targets that have that form; the others stay
    unrolled) or "auto" (layered from ``LAYERED_FROM_PARAMETERS`` weights and biases on, or
    from the target's own ``layered_from_parameters``: the casadi target's is lower).
    The unrolled form is refused (SizeLimitError) when its estimated size is over
    ``symnet.unrolled.size.UNROLLED_OPERATION_LIMIT``, unless ``allow_large_unrolled``.
    ``ode_states``: for the fmu target, the first ``ode_states`` outputs are the time
    derivatives of the first ``ode_states`` inputs (a neural ODE; 0: a static block).
    ``activations``: "exact" (the default) or "fast": tanh and the logistic by a branch-free
    approximation within a few ulp, slopes from the approximate value (docs/performance.md;
    the c target's layered form only, so "auto" means "layered" there).
    """
    if expressions:
        own = _ordered(derivatives, net) if derivatives else ()
        derivatives = own + user_expressions(net, expressions, parameters, "hessian" in own)
    else:
        derivatives = _ordered(derivatives or default_derivatives(net), net)
    targets = tuple(target_names()) if "all" in targets else tuple(targets)
    renderers = [get_target(t) for t in targets]
    strategy = _strategy_for(derivatives, strategy, renderers, net)
    strategy = _strategy_for_activations(activations, strategy, renderers)
    chosen, folded = choose_strategy(strategy, net)
    strategies = []
    for target in renderers:
        chosen_here = chosen
        if target.layered_from_parameters is not None:   # its own threshold; the fold made once
            chosen_here, folded_here = choose_strategy(strategy, net, target.layered_from_parameters, folded)
            folded = folded if folded is not None else folded_here
        strategies.append(chosen_here if chosen_here in target.strategies else "unrolled")
    if "unrolled" in strategies:
        _require_unrolled_fits(net, derivatives, allow_large_unrolled)
        programs = tuple((what, Derivative(net, what, allow_large_unrolled=True).program)
                         for what in progress.over(derivatives, "unrolled form"))
    else:
        programs = tuple((what, None) for what in derivatives)
    request = GenerationRequest(
        network=net,
        name=safe_identifier(name or net.name),
        programs=programs,
        header=tuple(describe(net, clean=comment_text)) + header_lines(
            [what for what in derivatives if spec_of(what).kind == "expression"], net.n_inputs),
        precision=precision,
        derivatives=derivatives,
        layered=layered_programs(net, derivatives, folded, activations) if "layered" in strategies else (),
        ode_states=ode_states,
        activations=activations,
    )
    files = {}   # every target rendered before the first write: a failure leaves no partial output
    for target, target_strategy in zip(renderers, strategies):
        with progress.stage(f"{target.name}: {target_strategy}"):
            rendered = target.render(dataclasses.replace(request, strategy=target_strategy))
            rendered.update(render_step(target, request))
        files.update(sorted(rendered.items()))
    return write_files(out_dir, files)


def user_expressions(net, texts, parameters=(), hessian=False):
    """The ExpressionName of the value, gradient (and, with ``hessian``, Hessian) of every
    expression in ``texts`` (symnet.ir.expression_spec); refused, on one line, where a
    parameter name is not one of its own or the expression reads a partial derivative of
    order 2 or more of a network whose transfer functions are piecewise linear."""
    if isinstance(texts, str):
        texts = (texts,)
    parameters = tuple(dict(parameters).items()) if isinstance(parameters, dict) else tuple(parameters)
    whats = ("value", "gradient", "hessian") if hessian else ("value", "gradient")
    names = expression_specs(texts, net, parameters, whats, reserved_words(), safe_identifier)
    kinked = piecewise_linear_transfers(net)
    for what in names:
        if kinked and what.spec.reads >= 2:
            raise UnsupportedError(f"expression {what.spec.text!r} reads a partial derivative of order"
                                   f" {what.spec.reads}, zero wherever it exists for the piecewise-linear"
                                   f" transfer function {kinked[0]} of this network")
    return names


def _strategy_for_activations(activations, strategy, renderers):
    """The strategy to use: ``strategy``, or "layered" in the fast mode (only layered forms
    have it); refuses an unknown mode, and the fast mode where a target or the unrolled
    strategy cannot honour it."""
    if activations not in ACTIVATION_MODES:
        raise UnsupportedError(f"unknown activations mode {activations!r} (choose from {', '.join(ACTIVATION_MODES)})")
    if activations == "exact":
        return strategy
    honouring = [backend.name for backend in backends() if activations in backend.activation_modes]
    for target in renderers:
        if activations not in target.activation_modes:
            raise UnsupportedError(f"the {target.name} target has no {activations!r} activations mode"
                                   f" (targets that have it: {', '.join(honouring)})")
    if strategy == "unrolled":
        raise UnsupportedError(f"the {activations!r} activations mode needs the layered strategy"
                               " (use --strategy layered or auto)")
    return "layered"


def _require_unrolled_fits(net, derivatives, allow_large_unrolled):
    """The unrolled stage's size check, its refusal advising the layered strategy only where
    it builds every one of ``derivatives`` (_layered_alternative)."""
    require_unrolled_fits(net, derivatives, allow_large_unrolled,
                          layered_alternative=_layered_alternative(net, derivatives))


def _layered_alternative(net, derivatives):
    """What a size refusal says of the layered strategy: True (advise it) where it writes every
    layer of ``net`` and builds every one of ``derivatives``; why not where it writes the
    layers but not some derivative (beyond the whole arrays of a network with output maps,
    beyond its order); False (not named) where it cannot write the network."""
    if not writes_transfers_of(net):
        return False
    beyond_whole = [what for what in derivatives if what not in WHOLE]
    if beyond_whole and has_output_map(net):
        return ("the layered strategy builds only the whole arrays (value, gradient, Jacobian, Hessian) of a network"
                f" with output maps, not {beyond_whole[0]}")
    highest = layered_order(net)
    if any(spec_of(what).order > highest for what in beyond_whole):
        return ("the layered strategy builds partial derivatives and user expressions needing"
                f" derivatives up to order {highest} of this network only")
    return True


def _ordered(derivatives, net):
    """The canonical names of a spec (text or names), in the order of generated files: the
    whole arrays, the directional derivatives, then the partial derivatives as asked."""
    names = parse_derivatives(derivatives, net)
    order = {name: place for place, name in enumerate(NAMES)}
    return tuple(sorted(names, key=lambda name: order.get(name, len(order))))


def _require_unrolled(what):
    if not unrolled_builds(what):
        raise UnsupportedError(f"{what} is built by the layered strategy only")


def _needs(what):
    """How a refusal states the order of ``what``."""
    return "needs derivatives of the outputs of" if spec_of(what).kind == "expression" else "has"


def _strategy_for(derivatives, strategy, targets, net):
    """The strategy that builds every derivative: the unrolled one for partial derivatives
    and user expressions needing derivatives of the outputs beyond the layered form's order
    (symnet.layered.directional.layered_order: 4, 2 through a whole-layer function) and for
    the derivatives beyond the whole arrays of a network with output maps (the layered form
    maps only the whole arrays), ``strategy`` otherwise;
    refused, naming the derivative, where the user's strategy or a target cannot have it."""
    for target in targets:
        for what in derivatives:
            if what not in WHOLE and spec_of(what).kind not in target.directional:
                printing = [b.name for b in backends() if spec_of(what).kind in b.directional]
                raise UnsupportedError(f"the {target.name} target does not print {what} (targets that do:"
                                       f" {', '.join(printing)})")
    highest = layered_order(net)
    unrolled = [what for what in derivatives if what not in WHOLE and spec_of(what).order > highest]
    if unrolled:
        if strategy == "layered":
            raise UnsupportedError(f"{unrolled[0]} {_needs(unrolled[0])} order {spec_of(unrolled[0]).order}: the"
                                   f" layered strategy builds partial derivatives up to order {highest} of this"
                                   " network; use --strategy unrolled or auto")
        return "unrolled"
    directional = [what for what in derivatives if what not in WHOLE]
    if directional and has_output_map(net):
        if strategy == "layered":
            raise UnsupportedError(f"{directional[0]} of a network with output maps: the layered strategy maps"
                                   " the whole arrays only; use --strategy unrolled or auto")
        return "unrolled"
    return strategy
