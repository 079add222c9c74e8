"""MATLAB names are at most 63 characters (namelengthmax): the MATLAB target shortens a longer
function, file or variable name, from a long model name, a long partial derivative name or a
long expression name, to its first 54 characters, "_" and 8 hex digits of the SHA-256 of the
whole name (symnet.emit.matlab.printer.matlab_name), says so in the file's top comment, and the
shortened functions run in Octave: self-check, values against the API."""

import re
import subprocess

import numpy as np
import pytest
import sympy as sp

import symnet
from symnet.emit.common import safe_identifier
from symnet.emit.matlab.printer import NAME_LENGTH_MAX, ExactOctavePrinter, matlab_name
from symnet.errors import UnsupportedError
from symnet.reference.finite_differences import sample_points

from helpers import require_tool
from runners import assert_passed, octave_self_check
from test_derivative_spec import _square_network

LONG = "a_rather_long_model_name_for_the_heat_exchanger_of_plant_number_seven"
#: the name the files are given: safe_identifier keeps 48 characters, so that the check and step
#: functions fit, and the names of partial derivatives and expressions make them too long
NAME = safe_identifier(LONG)
EXPRESSION = "momentum_residual_of_the_heat_exchanger_in_direction_x = y1_x*y2 + k*y3_t**2"
PARTIAL = "d3y1_dx1_dx2_dx3"


def test_short_names_are_kept_and_long_ones_shortened_deterministically():
    assert matlab_name("pxyz_jacobian") == "pxyz_jacobian"
    assert matlab_name("a" * NAME_LENGTH_MAX) == "a" * NAME_LENGTH_MAX
    first, second = matlab_name(LONG + "_jacobian"), matlab_name(LONG + "_hessian")
    assert len(first) == len(second) == NAME_LENGTH_MAX
    assert first.startswith(LONG[:54] + "_") and re.fullmatch(r"[0-9a-f]{8}", first[-8:])
    assert first != second and matlab_name(LONG + "_jacobian") == first
    variable = sp.Symbol(LONG + "_e_0", real=True)
    assert ExactOctavePrinter().doprint(variable + 1) == f"{matlab_name(LONG + '_e_0')} + 1"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    net = _square_network()
    out = tmp_path_factory.mktemp("long")
    paths = symnet.generate(net, ["matlab"], out, derivatives=["value", "jacobian", PARTIAL], name=LONG,
                            strategy="unrolled")
    expression_out = tmp_path_factory.mktemp("long_expression")
    expression_paths = symnet.generate(net, ["matlab"], expression_out, derivatives=["hessian"],
                                       expressions=[EXPRESSION], parameters={"k": 1}, name=LONG)
    return net, out, paths, expression_out, expression_paths


def _identifiers(path):
    """Every name in the code of a .m file (comments and quoted text left out)."""
    code = "\n".join(re.sub(r"'[^']*'", "", line.split("%")[0]) for line in path.read_text().splitlines())
    return set(re.findall(r"[A-Za-z_]\w*", code))


def test_every_file_and_name_fits_and_the_file_says_why_it_was_shortened(generated):
    _, out, paths, expression_out, expression_paths = generated
    for path in list(paths) + list(expression_paths):
        assert len(path.stem) <= NAME_LENGTH_MAX, path.name
        first = path.read_text().splitlines()[0]
        assert re.match(rf"function .*= ?{re.escape(path.stem)}\(|function {re.escape(path.stem)}\(", first), first
        assert max(map(len, _identifiers(path))) <= NAME_LENGTH_MAX, path.name
        if path.stem != matlab_name(path.stem) or len(path.stem) == NAME_LENGTH_MAX:
            assert "is shortened to its first 54 characters" in path.read_text()
    partial = out / f"{matlab_name(NAME + '_' + PARTIAL)}.m"
    assert len(NAME + "_" + PARTIAL) > NAME_LENGTH_MAX and partial.exists()
    assert f"{NAME}_{PARTIAL}," in partial.read_text() and (out / f"{NAME}_jacobian.m").exists()


def test_generating_again_gives_the_same_names_and_files(generated, tmp_path):
    net, out, paths, _, _ = generated
    again = symnet.generate(net, ["matlab"], tmp_path, derivatives=["value", "jacobian", PARTIAL], name=LONG,
                            strategy="unrolled")
    assert [p.name for p in again] == [p.name for p in paths]
    assert all(p.read_bytes() == (out / p.name).read_bytes() for p in again)


def _octave(code, cwd):
    octave = require_tool("octave-cli")
    run = subprocess.run([octave, "--no-gui", "--norc", "--quiet", "--eval", code], cwd=cwd,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_the_shortened_functions_pass_their_self_check_in_octave(generated):
    _, out, _, expression_out, _ = generated
    for folder in (out, expression_out):
        assert_passed(octave_self_check(folder, NAME))


def _matrix(X):
    return "[" + "; ".join(" ".join(repr(float(v)) for v in column) for column in X.T) + "]"


def test_the_shortened_functions_agree_with_the_api_in_octave(generated):
    net, out, _, expression_out, _ = generated
    X = sample_points(net, 3, seed=5)
    partial = matlab_name(f"{NAME}_{PARTIAL}")
    numbers = _octave(f"fprintf('%.17g\\n', {partial}({_matrix(X)}));", out).split()
    np.testing.assert_allclose([float(v) for v in numbers], symnet.derive(net, PARTIAL)(X)[:, 0],
                               rtol=1e-10, atol=1e-12)
    k = np.full((len(X), 1), 0.3)
    name = matlab_name(f"{NAME}_{safe_identifier(EXPRESSION.split(' =')[0])}_gradient")
    assert len(name) == NAME_LENGTH_MAX and (expression_out / f"{name}.m").exists()
    numbers = _octave(f"fprintf('%.17g\\n', {name}({_matrix(X)}, {_matrix(k)}));", expression_out).split()
    expected = symnet.derive(net, "gradient", expression=EXPRESSION, parameters={"k": 1})(X, k)
    np.testing.assert_allclose(np.array([float(v) for v in numbers]).reshape(len(X), 3), expected,
                               rtol=1e-10, atol=1e-12)


def test_a_parameter_name_longer_than_matlab_allows_is_refused():
    with pytest.raises(UnsupportedError, match="at most 63 characters"):
        symnet.api.user_expressions(_square_network(), ("e = y1*" + "k" * 64,), {"k" * 64: 1})
