"""docs/adding-a-language.md, followed to the letter: a small language (JavaScript, in
tests/toy_javascript/) added to a copy of symnet by its documented steps only (one
package in symnet/emit/, one template folder, one registry line), then generated for
the bundled examples and random networks, run with Node.js and compared with the
closed form of this checkout's symnet (an independent reference: sympy's lambdify)."""

import dataclasses
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import symnet
from symnet.reference.finite_differences import compare
from symnet.importers.json_format import save_json

from conftest import REPO
from helpers import closed_form, points_for, random_network, require_tool

TOY = REPO / "tests" / "toy_javascript"
REGISTRY_LINE = '    "javascript": "javascript",\n'
RUN_JS = """
const module_ = require(process.argv[1]);  // node -e: argv[1] is the first argument
const points = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = {};
for (const name of process.argv.slice(2)) out[name] = points.map((x) => module_[name](x));
process.stdout.write(JSON.stringify(out));
"""
FUNCTIONS = {"value": "evaluate", "gradient": "gradient", "jacobian": "jacobian", "hessian": "hessian"}


def _without_caches(directory, names):
    return [name for name in names if name == "__pycache__"]


@pytest.fixture(scope="module")
def extended(tmp_path_factory):
    """A copy of symnet with the toy language added by the documented steps."""
    root = tmp_path_factory.mktemp("extended")
    shutil.copytree(REPO / "symnet", root / "symnet", symlinks=True, ignore=_without_caches)
    shutil.copytree(REPO / "templates", root / "templates", ignore=_without_caches)
    # 1. the language's package, 2. its templates, 3. one line in the registry.
    shutil.copytree(TOY / "javascript", root / "symnet" / "emit" / "javascript", ignore=_without_caches)
    shutil.copytree(TOY / "templates" / "javascript", root / "templates" / "javascript")
    registry = root / "symnet" / "emit" / "__init__.py"
    text = registry.read_text()
    anchor = '    "latex": "latex",\n'
    assert text.count(anchor) == 1, "the registry's last line moved: update this test and the docs"
    registry.write_text(text.replace(anchor, anchor + REGISTRY_LINE))
    return root


def _symnet(extended, *arguments):
    result = subprocess.run([sys.executable, "-m", "symnet", *map(str, arguments)], cwd=extended,
                            capture_output=True, text=True, timeout=600,
                            env={"PYTHONPATH": str(extended), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _run_node(module, whats, X):
    node = require_tool("node")
    result = subprocess.run([node, "-e", RUN_JS, str(module), *(FUNCTIONS[w] for w in whats)],
                            input=json.dumps(X.tolist()), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_the_registry_line_is_the_only_edit_to_symnet(extended):
    changed = []
    for path in sorted((extended / "symnet").rglob("*.py")):
        relative = path.relative_to(extended)
        if relative.parts[:3] == ("symnet", "emit", "javascript"):
            continue
        if path.read_text() != (REPO / relative).read_text():
            changed.append(str(relative))
    assert changed == ["symnet/emit/__init__.py"]


def test_the_new_language_reaches_the_command_line(extended):
    assert "javascript" in _symnet(extended, "generate", "--help")


CASES = [("pxyz", None), ("classifier", None)] + [(f"random{seed}", seed) for seed in (3, 8, 21, 40)] + [
    ("output_map", 8)]


@pytest.mark.parametrize("strategy", ["unrolled", "layered"])
@pytest.mark.parametrize("label, seed", CASES, ids=[label for label, _ in CASES])
def test_the_generated_javascript_computes_the_closed_form(extended, tmp_path, label, seed, strategy):
    if seed is None:
        model = REPO / "examples" / f"{label}.json"
        net = symnet.load(model)
    else:
        net = random_network(seed, transfers=("tansig", "logsig", "poslin", "elu", "softplus", "softmax", "rms_norm"))
        if label == "output_map":   # u = E(x, y) closing the program
            net = dataclasses.replace(net, outputs=tuple(dataclasses.replace(
                output, output_map=("x_0*(1 - x_0)*y + sin(x_0)",)) for output in net.outputs))
        model = tmp_path / "net.json"
        save_json(net, model)
    whats = ("value", "gradient", "hessian") if net.n_outputs == 1 else ("value", "jacobian", "hessian")
    _symnet(extended, "generate", model, "--target", "javascript", "--derivatives", ",".join(whats),
            "--name", "model", "--strategy", strategy, "--out", tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model.js"]
    assert ("function transpose(" in (tmp_path / "out" / "model.js").read_text()) == (strategy == "layered")
    X = points_for(net, count=4, seed=5)
    results = _run_node(tmp_path / "out" / "model.js", whats, X)
    for what in whats:
        expected = closed_form(net, what)(X)
        actual = np.array(results[FUNCTIONS[what]], dtype=float).reshape(expected.shape)
        assert compare(actual, expected).max_rel_error < 1e-12, what
