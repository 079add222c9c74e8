"""Rebuild generated/ from the bundled example networks (examples/*.json).

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

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
GENERATED = REPO / "generated"


def derivatives_for(net):
    return default_derivatives(net) + ("hessian",)


def regenerate(destination):
    for model in sorted(EXAMPLES.glob("*.json")):
        net = symnet.load(model)
        symnet.generate(net, ["all"], destination / model.stem, derivatives=derivatives_for(net), name=model.stem)
        # the layered C form too (the examples are small enough to be unrolled by default)
        symnet.generate(net, ["c"], destination / f"{model.stem}_layered_c", derivatives=derivatives_for(net),
                        name=model.stem, strategy="layered")


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
