"""The derivative spec on the command line: every name of the grammar generates code that
passes its self-check, and every grammar error is one line, a non-zero exit, no traceback."""

import subprocess
import sys

import pytest

from conftest import REPO
from runners import assert_passed, python_self_check

EXAMPLE = REPO / "examples" / "pxyz.json"   # 3 inputs XYZ (one block), 1 output P


def symnet(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "symnet", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_generate_with_a_derivative_spec_writes_passing_self_checks(tmp_path):
    result = symnet("generate", EXAMPLE, "--target", "numpy", "--target", "python", "--derivatives",
                    "value,jvp,vjp,hvp,laplacian,d2P/dx1dx3,d2y/dx2^2,dy1/dx3", "--name", "pxyz", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    module = (tmp_path / "pxyz_numpy.py").read_text()
    for signature in ("def jvp(X, V):", "def vjp(X, W):", "def hvp(X, V):", "def laplacian(X):",
                      "def d2y1_dx1_dx3(X):", "def d2y1_dx2_dx2(X):", "def d1y1_dx3(X):"):
        assert signature in module
    for script in ("pxyz_numpy_check.py", "pxyz_check.py"):
        assert_passed(python_self_check(tmp_path, script))


@pytest.mark.parametrize("spec, problem", [
    ("jacobean", "unknown derivative 'jacobean'"),
    ("d0y/dx1", "order 0"),
    ("d2y2/dx1dx2", "unknown output 'y2'"),
    ("d2y/dx1dx7", "unknown input"),
    ("divergence", "the divergence needs as many outputs as inputs"),
    (",", "no derivative named"),
])
def test_grammar_errors_are_one_line_without_traceback(tmp_path, spec, problem):
    result = symnet("generate", EXAMPLE, "--target", "c", "--derivatives", spec, "--out", tmp_path)
    assert result.returncode != 0
    assert problem in result.stderr.strip().splitlines()[-1], result.stderr   # the error: its last line
    assert "Traceback" not in result.stderr


def test_fixed_function_targets_refuse_a_directional_derivative(tmp_path):
    result = symnet("generate", EXAMPLE, "--target", "fmu", "--derivatives", "jvp", "--out", tmp_path)
    assert result.returncode != 0
    assert "the fmu target does not print jvp" in result.stderr and "Traceback" not in result.stderr


def test_layered_strategy_refuses_a_fifth_partial_and_auto_builds_a_third(tmp_path):
    result = symnet("generate", EXAMPLE, "--target", "c", "--derivatives", "d5y/dx1^5", "--strategy", "layered",
                    "--out", tmp_path)
    assert result.returncode != 0
    assert "up to order 4" in result.stderr and "Traceback" not in result.stderr
    result = symnet("generate", EXAMPLE, "--target", "python", "--derivatives", "d3y/dx1^2dx2", "--name", "p",
                    "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert_passed(python_self_check(tmp_path, "p_check.py"), checks=5)


def test_check_checks_every_kind_of_the_spec_against_differences_and_the_reference():
    spec = "hessian,jvp,vjp,hvp,laplacian,d2P/dx1dx3,d2y/dx2^2,dy1/dx3,d3y/dx1^2dx2"
    result = symnet("check", EXAMPLE, "--derivatives", spec, "--points", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    labels = [line.split(":")[0] for line in lines]
    assert labels == ["jacobian", "hessian", "jvp", "vjp", "hvp", "laplacian", "d2y1/dx1dx3", "d2y1/dx2dx2",
                      "d1y1/dx3", "d3y1/dx1dx1dx2"]
    for line in lines:
        assert "3 points, max abs error" in line and "30-digit reference: max rel error" in line
        assert line.endswith(" ok"), line


def test_check_fails_a_directional_derivative_past_the_tolerance():
    result = symnet("check", EXAMPLE, "--derivatives", "laplacian", "--tolerance", "1e-30")
    assert result.returncode == 1
    assert any(line.startswith("laplacian:") and line.endswith("FAILED") for line in result.stdout.splitlines())


@pytest.mark.parametrize("spec, problem", [
    ("jacobean", "unknown derivative 'jacobean'"),
    ("d2y2/dx1dx2", "unknown output 'y2'"),
    ("divergence", "the divergence needs as many outputs as inputs"),
    (",", "no derivative named"),
])
def test_check_grammar_errors_are_one_line_without_traceback(spec, problem):
    result = symnet("check", EXAMPLE, "--derivatives", spec)
    assert result.returncode != 0
    assert problem in result.stderr.strip().splitlines()[-1], result.stderr
    assert "Traceback" not in result.stderr
