"""Rebuild generated/ from the bundled example networks (examples/*.json).

For each example NAME: generated/NAME/ holds every target in the strategy symnet picks
by default, generated/NAME_<other strategy>/ every target in the other one, and
generated/NAME_float_c/ and generated/NAME_<other strategy>_float_c/ the single-precision
C of both.  Every emitter's output is pinned byte for byte, so a refactor of the emit
stage is proven to change nothing by this check alone.

Run:  python tools/regenerate.py          (rewrites generated/)
      python tools/regenerate.py --check  (exit 1 and print a diff when generated/ is stale)
"""

import argparse
import difflib
import sys
import tempfile
from pathlib import Path

import symnet
from symnet.api import default_derivatives
from symnet.emit import get_target, target_names
from symnet.emit.layered_common import resolve_strategy

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
GENERATED = REPO / "generated"


def derivatives_for(net):
    return default_derivatives(net) + ("hessian",)


def text_targets():
    """Every target that writes text: an archive (the fmu target's) holds a binary that
    differs by compiler, and its C sources are the c target's, pinned here already."""
    return [name for name in target_names() if not any(f.endswith(".fmu") for f in get_target(name).files)]


def folders(stem, net):
    """(folder name, targets, strategy, precision) for one example, the default strategy first."""
    default = resolve_strategy("auto", net)
    other = "layered" if default == "unrolled" else "unrolled"
    return ((stem, text_targets(), default, "double"),
            (f"{stem}_{other}", text_targets(), other, "double"),
            (f"{stem}_float_c", ["c"], default, "float"),
            (f"{stem}_{other}_float_c", ["c"], other, "float"))


def regenerate(destination):
    for model in sorted(EXAMPLES.glob("*.json")):
        net = symnet.load(model)
        for folder, targets, strategy, precision in folders(model.stem, net):
            symnet.generate(net, targets, destination / folder, derivatives=derivatives_for(net),
                            name=model.stem, strategy=strategy, precision=precision)


def differences(expected_root, actual_root):
    lines = []
    expected = {p.relative_to(expected_root) for p in expected_root.rglob("*") if p.is_file()}
    actual = {p.relative_to(actual_root) for p in actual_root.rglob("*") if p.is_file()}
    for name in sorted(expected | actual):
        old = (actual_root / name).read_text().splitlines(keepends=True) if name in actual else []
        new = (expected_root / name).read_text().splitlines(keepends=True) if name in expected else []
        lines += difflib.unified_diff(old, new, f"generated/{name}", f"fresh/{name}")
    return "".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of rewriting")
    args = parser.parse_args(argv)
    if not args.check:
        for path in sorted(GENERATED.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        regenerate(GENERATED)
        return 0
    with tempfile.TemporaryDirectory() as fresh:
        regenerate(Path(fresh))
        diff = differences(Path(fresh), GENERATED)
    if diff:
        print(diff)
        print("generated/ is stale: run  python tools/regenerate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
