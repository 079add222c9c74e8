"""Command line: ``symnet inspect | check | generate | sensitivity``."""

import argparse
import logging
import math
import re
import sys
import traceback

from . import api, plots, progress
from .describe import describe
from .emit import target_names
from .emit.layered_common import STRATEGIES
from .errors import MAX_PROBLEM, SymnetError, UnsupportedError, printable
from .importers import user_module
from .ir.derivative_spec import NAMES, parse_derivatives
from .ir.expression_spec import EXPRESSION_DERIVATIVES, parse_parameter
from .layered.fast import ACTIVATION_MODES
from .points_file import read_points
from .reference.finite_differences import sample_points
from .reference.spec_check import check_expressions, check_spec, parameter_values
from .sensitivities import DEFAULT_POINTS, input_names, output_names, sensitivity, table_lines


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    progress.set_quiet(getattr(args, "quiet", False))
    _notices_on_stderr()
    try:
        return args.run(args)
    except SymnetError as error:
        print(f"symnet: error: {error.one_line()}", file=sys.stderr)
        return 2
    except OSError as error:   # the file system refused (permissions, full disk): not a bug
        where = f"{printable(error.filename)}: " if error.filename else ""
        print(f"symnet: error: {where}{printable(error.strerror or error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symnet: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # anything else is a bug in symnet, not bad input
        text = printable(f"{type(error).__name__}: {error}", MAX_PROBLEM)
        print(f"symnet: internal error, please report: {text}", file=sys.stderr)
        if args.debug:
            traceback.print_exc()
        return 3


class _NoticeHandler(logging.Handler):
    """A library notice (files replaced) as one line, ``symnet: <notice>``, on the current stderr."""

    def emit(self, record):
        print(f"symnet: {printable(record.getMessage())}", file=sys.stderr)


def _notices_on_stderr():
    logger = logging.getLogger("symnet")
    if not any(isinstance(handler, _NoticeHandler) for handler in logger.handlers):
        logger.addHandler(_NoticeHandler(logging.WARNING))


def _parser():
    parser = argparse.ArgumentParser(
        prog="symnet", description="Exact derivative code for trained neural networks.")
    parser.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    commands = parser.add_subparsers(dest="command", required=True)

    inspect = commands.add_parser("inspect", help="show architecture, normalization and size")
    _model_arguments(inspect)
    inspect.set_defaults(run=run_inspect)

    check = commands.add_parser("check", help="compare symbolic derivatives with finite differences")
    _model_arguments(check)
    check.add_argument("--points", type=_point_count, default=5,
                       help=f"random points in the training range (1 to {MAX_POINTS}; default 5)")
    check.add_argument("--seed", type=_seed, default=0, help="seed of the random points (a whole number >= 0)")
    check.add_argument("--tolerance", type=_tolerance, default=1e-6,
                       help="largest relative error accepted (a finite number >= 0; default 1e-6)")
    check.add_argument("--derivatives", default=None, type=_derivative_items,
                       help="comma-separated derivative spec, as for generate: jacobian (always checked),"
                            " hessian, jvp, vjp, hvp, laplacian, divergence, d2y1/dx1dx2, ... (docs/derivatives.md);"
                            " with --expression, which of the expressions' value, gradient, hessian (default: all)")
    check.add_argument("--expression", action="append", default=[], metavar="TEXT",
                       help="check a user expression instead, as for generate ('r = y_t + y*y_x - nu*y_xx'):"
                            " its value, gradient and Hessian with respect to the raw inputs; repeatable")
    check.add_argument("--parameter", action="append", default=[], metavar="NAME:SIZE",
                       help="a parameter of the expressions, as for generate (nu:1); checked at random values"
                            " in [-1, 1] from --seed; repeatable")
    check.add_argument("--allow-large-unrolled", action="store_true",
                       help="build the unrolled form of partial derivatives of order 3 and more even when"
                            " its estimated size is over the limit (see docs/targets.md)")
    check.add_argument("--plot", metavar="OUT.png", default=None,
                       help="also draw the derivative and finite differences along each input's range"
                            " (needs matplotlib: pip install symnet[plot])")
    check.set_defaults(run=run_check)

    generate = commands.add_parser("generate", help="write derivative code")
    _model_arguments(generate)
    generate.add_argument("--target", action="append", choices=target_names() + ("all",), required=True,
                          help="target language (repeat for several, or 'all')")
    generate.add_argument("--derivatives", type=_derivative_items, default=None,
                          help="comma-separated from: " + ", ".join(NAMES) + ", and partial derivatives"
                               " such as d2y1/dx1dx2 (see docs/derivatives.md)")
    generate.add_argument("--expression", action="append", default=[], metavar="TEXT",
                          help="a user expression of the outputs and their partial derivatives, 'name = formula'"
                               " or a formula ('cost = sum((y - t)**2)', 'r = y_t + y*y_x - nu*y_xx'): its value"
                               " and gradient with respect to the raw inputs are generated, its Hessian too when"
                               " --derivatives names hessian, which otherwise lists the network's own derivatives"
                               " generated besides (see docs/derivatives.md); repeatable")
    generate.add_argument("--parameter", action="append", default=[], metavar="NAME:SIZE",
                          help="a name of the expressions that is neither an output nor a derivative, SIZE numbers"
                               " (t:3, nu:1): an extra argument of the generated functions; repeatable")
    generate.add_argument("--name", default=None, help="base name of the generated files and functions")
    generate.add_argument("--out", required=True, help="output folder (created if missing)")
    generate.add_argument("--precision", choices=("double", "float"), default="double")
    generate.add_argument("--strategy", choices=STRATEGIES, default="auto",
                          help="unrolled scalar expressions, layered weight arrays and loops, or auto"
                               " (layered from a size measured in benchmarks/; see docs/targets.md)")
    generate.add_argument("--allow-large-unrolled", action="store_true",
                          help="build the unrolled form even when its estimated size is over the limit"
                               " (see docs/targets.md)")
    generate.add_argument("--ode", type=int, default=0, metavar="N_STATES",
                          help="fmu target: a neural ODE whose first N_STATES outputs are the time derivatives"
                               " of the first N_STATES inputs (the states); the other inputs are the FMU's"
                               " inputs (see docs/targets.md)")
    generate.add_argument("--activations", choices=ACTIVATION_MODES, default="exact",
                          help="exact (default), or fast: tanh and the logistic by a branch-free approximation"
                               " within 4 ulp, slopes 1 - a^2 and a(1 - a) from it (c target, layered;"
                               " see docs/performance.md)")
    generate.set_defaults(run=run_generate)

    _sensitivity_parser(commands)
    return parser


def _sensitivity_parser(commands):
    command = commands.add_parser(
        "sensitivity", help="how strongly each output responds to each input (exact Jacobian)",
        description="Mean |dy/dx| and mean dy/dx of each raw output y with respect to each raw input x"
                    " over a set of points, and both multiplied by the width (high - low) of x's training"
                    " range, as stated in the model or implied by its normalization: the '*range' columns"
                    " are the change of y, in y's units, per full training range of x, which ranks inputs"
                    " measured on different scales.")
    _model_arguments(command)
    where = command.add_mutually_exclusive_group()
    where.add_argument("--data", metavar="X.csv|X.npy", default=None,
                       help="points to evaluate at: one row per point, one column per raw input"
                            " (CSV may start with a header row of names)")
    where.add_argument("--points", type=_point_count, default=DEFAULT_POINTS,
                       help=f"random points in the training range when there is no --data (default {DEFAULT_POINTS})")
    command.add_argument("--seed", type=_seed, default=0, help="seed of the random points (a whole number >= 0)")
    command.add_argument("--plot", metavar="OUT.png", default=None,
                         help="also draw a bar chart per output and partial-dependence slices through the"
                              " median point (needs matplotlib: pip install symnet[plot])")
    command.set_defaults(run=run_sensitivity)


def _model_arguments(command):
    command.add_argument("model")
    command.add_argument("--quiet", action="store_true", help="no progress line on a terminal")
    command.add_argument("--trust-pickle", action="store_true",
                         help="allow a pickled model (.pkl, .joblib, a whole torch module): unpickling runs"
                              " code from the file, so use it only for files you trust")
    command.add_argument("--module", type=_module_spec, default=None, metavar="MODULE:CLASS",
                         help="for a torch state dict (.pt, .pth): the class it belongs to, as package.module:Class"
                              " or path/to/file.py:Class; this imports and runs that code of yours (the current"
                              " folder is searched) and builds Class() with no arguments")
    command.add_argument("--input-size", action="append", type=_input_size, default=[], metavar="NAME=N",
                         help="raw size of an input whose size the model file does not state (MATLAB"
                              " genFunction files that list only the kept rows); repeatable")


def _module_spec(text):
    try:
        user_module.split_spec(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _input_size(text):
    name, _, size = text.partition("=")
    if not name.strip() or _whole_number(size) is None or int(size) < 1:
        raise argparse.ArgumentTypeError(f"expected NAME=N with a positive whole number N, got {text!r}")
    return name.strip(), int(size)


#: the most points ``check`` samples (each costs several network evaluations per input)
MAX_POINTS = 100_000


def _whole_number(text):
    """The whole number written in ``text`` (ASCII digits, optional sign), else None."""
    return int(text) if re.fullmatch(r"\s*[+-]?[0-9]+\s*", text) else None


def _point_count(text):
    count = _whole_number(text)
    if count is None or not 1 <= count <= MAX_POINTS:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_POINTS}, got {text!r}")
    return count


def _seed(text):
    seed = _whole_number(text)
    if seed is None or seed < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return seed


def _tolerance(text):
    try:
        tolerance = float(text)
    except ValueError:
        tolerance = math.nan
    if not math.isfinite(tolerance) or tolerance < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return tolerance


def _load(args):
    options = {"trust_pickle": True} if args.trust_pickle else {}
    if args.input_size:
        options["input_sizes"] = dict(args.input_size)
    if args.module is not None:
        options["module"] = user_module.instantiate(args.module)
    return api.load(args.model, **options)


def _derivative_items(text):
    """The items of a derivative spec; each is checked against the network once it is loaded."""
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    if not items:
        raise argparse.ArgumentTypeError(f"no derivative named in {text!r}")
    return items


def run_inspect(args):
    net = _load(args)
    for line in describe(net, clean=printable):   # names from the file reach the terminal escaped
        print(line)
    return 0


def run_check(args):
    if args.plot:
        plots.require_matplotlib()
    parameters = _expression_parameters(args)
    net = _load(args)
    X = sample_points(net, args.points, seed=args.seed)
    if args.expression:
        specs = _expression_specs(args, net, parameters)
        values = parameter_values(parameters, len(X), args.seed)
        with progress.stage("check"):   # closed before anything is printed
            checks = check_expressions(net, specs, X, _deriving(args.allow_large_unrolled), values)
    else:
        whats = parse_derivatives(args.derivatives or ("jacobian",), net)
        with progress.stage("check"):   # closed before anything is printed
            checks = check_spec(net, whats, X, _deriving(args.allow_large_unrolled), seed=args.seed)
    failed = False
    for check in checks:
        verdict = "ok" if check.within(args.tolerance) else "FAILED"
        failed |= verdict != "ok"
        against = check.note if check.reference is None else \
            f"30-digit reference: max rel error {check.reference.max_rel_error:.3e}"
        print(f"{check.label}: {args.points} points, max abs error {check.differences.max_abs_error:.3e},"
              f" max rel error {check.differences.max_rel_error:.3e}; {against} (tolerance {args.tolerance:g})"
              f" {verdict}")
    if args.plot:
        plots.plot_check(net, api.derive(net, "jacobian"), X, args.plot, input_names(net), output_names(net))
        print(f"plot: {printable(args.plot)}")
    return 1 if failed else 0


def _expression_parameters(args):
    """The ``--parameter`` items, refused without an ``--expression`` to read them."""
    parameters = tuple(parse_parameter(text) for text in args.parameter)
    if parameters and not args.expression:
        raise UnsupportedError("--parameter: parameters belong to an --expression, and none is given")
    return parameters


def _expression_specs(args, net, parameters):
    """The ExpressionSpec of each derivative of every ``--expression`` that ``--derivatives`` names
    (value, gradient, hessian; all of them by default), in order."""
    whats = args.derivatives or EXPRESSION_DERIVATIVES
    for what in whats:
        if what not in EXPRESSION_DERIVATIVES:
            raise UnsupportedError(f"--derivatives: {printable(what)!r} is not a derivative of an expression"
                                   f" (with --expression: {', '.join(EXPRESSION_DERIVATIVES)})")
    names = api.user_expressions(net, tuple(args.expression), parameters, hessian="hessian" in whats)
    return tuple(name.spec for name in names if name.spec.what in whats)


def _derive_either(net, what, allow_large_unrolled=False):
    """The API's function of a derivative of the network (a name) or of an expression (its spec)."""
    if getattr(what, "user", None) is None:
        return api.derive(net, what, allow_large_unrolled)
    return api.derive(net, what.what, allow_large_unrolled, expression=what.text, parameters=dict(what.parameters))


def _deriving(allow_large_unrolled):
    """``derive(net, what)`` for the checks, with ``--allow-large-unrolled``."""
    if not allow_large_unrolled:
        return _derive_either   # the module's at the time of the check (tests replace it)
    return lambda net, what: _derive_either(net, what, True)


def run_sensitivity(args):
    if args.plot:
        plots.require_matplotlib()
    net = _load(args)
    X = read_points(args.data, net.n_inputs) if args.data else None
    result = sensitivity(net, X, points=args.points, seed=args.seed)
    where = printable(args.data) if args.data else f"random in the training range, seed {args.seed}"
    if args.plot:
        plots.plot_sensitivity(net, result, args.plot)
    print(f"{printable(net.name)}: Jacobian at {len(result.points)} points ({where});"
          " range = width of the input's training range")
    for line in table_lines(result, clean=printable):   # names from the file reach the terminal escaped
        print(line)
    if args.plot:
        print(f"plot: {printable(args.plot)}")
    return 0


def run_generate(args):
    parameters = _expression_parameters(args)
    net = _load(args)
    with progress.stage("generate"):   # closed before the paths are printed
        paths = api.generate(net, args.target, args.out, derivatives=args.derivatives,
                             name=args.name, precision=args.precision,
                             strategy=args.strategy, allow_large_unrolled=args.allow_large_unrolled,
                             ode_states=args.ode, activations=args.activations,
                             expressions=tuple(args.expression), parameters=parameters)
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
