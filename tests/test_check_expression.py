"""``symnet check --expression``: a user expression's value, gradient and Hessian against the
formula of finite-difference partials, central differences of the value and of the gradient,
and the 30-digit reference (symnet.reference.spec_check.check_expressions); a wrong
derivative of each kind caught by both comparisons; one-line errors."""

import numpy as np
import pytest

import symnet
from symnet import cli
from symnet.importers.json_format import save_json
from symnet.reference.finite_differences import sample_points
from symnet.reference.spec_check import check_expressions, parameter_values

from helpers import require_module
from test_cli_options import _error_line, run_cli
from test_derivative_spec import _square_network

BURGERS = "r = y_t + y*y_x - nu*y_xx"
#: the command line's function, kept before any test replaces it
DERIVE = cli._derive_either
MIXED = "e = y1*y2_x - k*y3_y**2 + exp(y1_t)"   # its Hessian reads partials of order 3


def _specs(net, text, parameters):
    return tuple(name.spec for name in symnet.api.user_expressions(net, (text,), parameters, hessian=True))


@pytest.fixture(scope="module")
def pinn():
    torch = require_module("torch")
    import torch_real_models as models
    torch.manual_seed(3)
    return symnet.load(models.BurgersPINN().double())


@pytest.fixture(scope="module")
def square():
    return _square_network()


def test_the_burgers_residual_of_a_pinn_passes_both_comparisons(pinn):
    X = sample_points(pinn, 4, seed=2)
    specs = _specs(pinn, BURGERS, (("nu", 1),))
    checks = check_expressions(pinn, specs, X, cli._derive_either, parameter_values((("nu", 1),), 4, 2))
    assert [check.label for check in checks] == ["r value", "r gradient", "r hessian"]
    for check in checks:
        assert check.differences.max_rel_error < 1e-7, check
        assert check.reference.max_rel_error < 1e-12, check
        assert check.within(1e-6)


class _Wrong:
    """cli._derive_either, with one derivative of the expression off by a relative 1e-4."""

    def __init__(self, what):
        self.what = what

    def __call__(self, net, what):
        function = DERIVE(net, what)
        if getattr(what, "what", None) != self.what:
            return function
        return lambda X, *extra: np.asarray(function(X, *extra)) * (1 + 1e-4)


@pytest.mark.parametrize("what", ("value", "gradient", "hessian"))
def test_a_wrong_derivative_of_the_expression_fails_both_comparisons(square, what):
    X = sample_points(square, 3, seed=4)
    specs = [spec for spec in _specs(square, MIXED, (("k", 1),)) if spec.what == what]
    (check,) = check_expressions(square, specs, X, _Wrong(what), parameter_values((("k", 1),), 3, 4))
    assert check.differences.max_rel_error > 5e-5, check
    assert check.reference.max_rel_error > 5e-5, check
    assert not check.within(1e-6)


def test_parameter_values_are_drawn_from_the_seed():
    first, again = parameter_values((("nu", 1), ("t", 3)), 5, 1), parameter_values((("nu", 1), ("t", 3)), 5, 1)
    assert first["t"].shape == (5, 3) and np.array_equal(first["t"], again["t"])
    assert np.all(np.abs(first["nu"]) <= 1) and not np.array_equal(first["nu"], parameter_values((("nu", 1),), 5, 2)["nu"])


@pytest.fixture(scope="module")
def square_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("check") / "square.json"
    save_json(_square_network(), path)
    return path


def test_command_line_prints_one_line_per_derivative_and_passes(square_file):
    code, out, err = run_cli("check", square_file, "--expression", MIXED, "--parameter", "k:1", "--points", "3",
                             "--quiet")
    assert code == 0, out + err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["e value", "e gradient", "e hessian"]
    assert all(line.endswith(" ok") and "30-digit reference: max rel error" in line for line in lines), out


def test_command_line_checks_only_the_derivatives_named(square_file):
    code, out, err = run_cli("check", square_file, "--expression", "s = y1_x**2", "--derivatives", "gradient",
                             "--points", "2", "--quiet")
    assert code == 0, out + err
    assert [line.split(":")[0] for line in out.splitlines()] == ["s gradient"]


def test_command_line_exits_1_on_a_wrong_derivative(square_file, monkeypatch):
    monkeypatch.setattr(cli, "_derive_either", _Wrong("gradient"))
    code, out, err = run_cli("check", square_file, "--expression", MIXED, "--parameter", "k:1", "--points", "2",
                             "--derivatives", "value,gradient", "--quiet")
    assert code == 1, out + err
    value, gradient = out.splitlines()
    assert value.endswith(" ok") and gradient.endswith(" FAILED"), out


@pytest.mark.parametrize("arguments, message", [
    (["--expression", "e = y1 +"], "expression 'e = y1 +': not a formula"),
    (["--expression", "e = y1*k"], "unknown name 'k'"),
    (["--expression", "e = y1", "--parameter", "k:1"], "parameter 'k': no expression reads it"),
    (["--expression", "e = y1*k", "--parameter", "k:0"], "parameter 'k:0': expected NAME:SIZE"),
    (["--parameter", "k:1"], "parameters belong to an --expression"),
    (["--expression", "e = y1", "--derivatives", "jacobian"], "'jacobian' is not a derivative of an expression"),
])
def test_command_line_refuses_bad_expressions_and_parameters_in_one_line(square_file, arguments, message):
    code, out, err = run_cli("check", square_file, *arguments, "--quiet")
    assert code == 2 and out == ""
    line = _error_line(err)
    assert line.startswith("symnet: error: ") and message in line, err
