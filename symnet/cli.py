"""Command line: ``symnet inspect | check | generate``."""

import argparse
import logging
import sys
import traceback

from . import api
from .check import compare, finite_difference_hessian, finite_difference_jacobian, sample_points
from .derive import DERIVATIVES
from .describe import describe
from .emit import target_names
from .emit.layered_common import STRATEGIES
from .errors import MAX_PROBLEM, SymnetError, printable


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
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
    check.add_argument("--points", type=int, default=5, help="random points in the training range")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--tolerance", type=float, default=1e-6, help="largest relative error accepted")
    check.add_argument("--derivatives", default="jacobian", type=_derivative_list,
                       help="comma-separated: jacobian, hessian")
    check.set_defaults(run=run_check)

    generate = commands.add_parser("generate", help="write derivative code")
    _model_arguments(generate)
    generate.add_argument("--target", action="append", choices=target_names() + ("all",), required=True,
                          help="target language (repeat for several, or 'all')")
    generate.add_argument("--derivatives", type=_derivative_list, default=None,
                          help="comma-separated from: " + ", ".join(DERIVATIVES))
    generate.add_argument("--name", default=None, help="base name of the generated files and functions")
    generate.add_argument("--out", default="generated", help="output folder")
    generate.add_argument("--precision", choices=("double", "float"), default="double")
    generate.add_argument("--strategy", choices=STRATEGIES, default="auto",
                          help="unrolled scalar expressions, layered weight arrays and loops, or auto"
                               " (layered from a size measured in benchmarks/; see README)")
    generate.set_defaults(run=run_generate)
    return parser


def _model_arguments(command):
    command.add_argument("model")
    command.add_argument("--trust-pickle", action="store_true",
                         help="allow a pickled model (.pkl, .joblib, a whole torch module): unpickling runs"
                              " code from the file, so use it only for files you trust")
    command.add_argument("--input-size", action="append", type=_input_size, default=[], metavar="NAME=N",
                         help="raw size of an input whose size the model file does not state (MATLAB"
                              " genFunction files that list only the kept rows); repeatable")


def _input_size(text):
    name, _, size = text.partition("=")
    if not name or not size.isdigit() or int(size) < 1:
        raise argparse.ArgumentTypeError(f"expected NAME=N with a positive whole number N, got {text!r}")
    return name.strip(), int(size)


def _load(args):
    options = {"trust_pickle": True} if args.trust_pickle else {}
    if args.input_size:
        options["input_sizes"] = dict(args.input_size)
    return api.load(args.model, **options)


def _derivative_list(text):
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    unknown = [item for item in items if item not in DERIVATIVES]
    if unknown or not items:
        raise argparse.ArgumentTypeError(
            f"unknown derivative {unknown[0] if unknown else text!r} (choose from {', '.join(DERIVATIVES)})")
    return items


def run_inspect(args):
    net = _load(args)
    for line in describe(net, clean=printable):   # names from the file reach the terminal escaped
        print(line)
    return 0


def run_check(args):
    net = _load(args)
    X = sample_points(net, args.points, seed=args.seed)
    jacobian = api.derive(net, "jacobian")
    results = {"jacobian": compare(jacobian(X), finite_difference_jacobian(net, X))}
    if "hessian" in args.derivatives:
        hessian = api.derive(net, "hessian")
        results["hessian"] = compare(hessian(X), finite_difference_hessian(jacobian, net, X))
    failed = False
    for what, result in results.items():
        verdict = "ok" if result.within(args.tolerance) else "FAILED"
        failed |= verdict != "ok"
        print(f"{what}: {args.points} points, max abs error {result.max_abs_error:.3e},"
              f" max rel error {result.max_rel_error:.3e} (tolerance {args.tolerance:g}) {verdict}")
    return 1 if failed else 0


def run_generate(args):
    net = _load(args)
    paths = api.generate(net, args.target, args.out, derivatives=args.derivatives,
                         name=args.name, precision=args.precision,
                         strategy=args.strategy)
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
