"""The package is laid out by pipeline stage, and no stage imports one above it:
errors and progress <- ir <- importers, unrolled, layered, reference <- emit <- the API
and CLI modules at the top.  Stages of the same rank import nothing of each other."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symnet"
RANK = {"errors": 0, "progress": 0, "ir": 1,
        "importers": 2, "unrolled": 2, "layered": 2, "reference": 2,
        "emit": 3}
TOP = 4     # api, cli and the other modules at the package's top level


def stage(module):
    """The stage of a dotted module name under symnet ('' for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def rank(module):
    return RANK.get(stage(module), TOP)


def module_name(path, root=PACKAGE):
    relative = path.relative_to(root.parent).with_suffix("")
    name = ".".join(relative.parts)
    return name.removesuffix(".__init__")


def imported_modules(path, root=PACKAGE):
    """Every symnet module ``path`` (a file of the package at ``root``) imports, at the
    top or inside a function."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[:len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module:
                yield target
            else:
                yield from (f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("symnet"):
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("symnet"))


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_stages_are_packages():
    for name in ("ir", "importers", "unrolled", "layered", "reference", "emit"):
        assert (PACKAGE / name / "__init__.py").is_file(), name


@pytest.mark.parametrize("path", MODULES, ids=lambda path: module_name(path))
def test_no_module_imports_a_later_stage(path):
    here = module_name(path)
    for target in imported_modules(path):
        if rank(here) == TOP:
            continue
        assert rank(target) <= rank(here), f"{here} imports {target}, a later stage"
        if rank(target) == rank(here):
            assert stage(target) == stage(here), f"{here} imports {target}, a stage beside its own"


def test_the_checker_sees_a_climbing_import(tmp_path):
    """The rule above can fail: a lazy import of the API inside an emitter is found."""
    emitter = tmp_path / "symnet" / "emit" / "fmu" / "render.py"
    emitter.parent.mkdir(parents=True)
    emitter.write_text("def request():\n    from ...api import derive\n")
    found = list(imported_modules(emitter, tmp_path / "symnet"))
    assert found == ["symnet.api"]
    assert rank("symnet.api") > rank(module_name(emitter, tmp_path / "symnet"))


# Importing each module first, in its own interpreter, finds an import cycle; the
# languages' packages and the importers are leaves, so the stages' own modules suffice
# (__main__ is left out: importing it runs the command line).
FIRST_IMPORTS = [path for path in MODULES if path.name != "__main__.py"
                 and (stage(module_name(path)) not in ("importers", "emit") or path.parent == PACKAGE / "emit")]


@pytest.mark.parametrize("path", FIRST_IMPORTS, ids=lambda path: module_name(path))
def test_every_stage_module_imports_alone_in_a_fresh_interpreter(path):
    """No import cycle: each module loads first, before anything else of symnet."""
    name = module_name(path)
    result = subprocess.run([sys.executable, "-c", f"import importlib; importlib.import_module({name!r})"],
                            cwd=PACKAGE.parent, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
