"""Command-line options: every numeric option is checked by argparse (one line, exit 2),
``generate`` needs ``--out``, and ``--module`` names the torch class a state dict
belongs to (the user's own code, imported and built with no arguments)."""

import contextlib
import io
import sys

import numpy as np
import pytest

import symnet
from symnet.cli import main

from conftest import REPO
from helpers import import_file, require_module

EXAMPLE = REPO / "examples" / "pxyz.json"


def run_cli(*args):
    """(exit code, stdout, stderr) of the command line, run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as stop:   # argparse's refusals
            code = stop.code
    return code, out.getvalue(), err.getvalue()


def _error_line(err):
    """The one error line (argparse prints its usage above it)."""
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("option, value", [
    ("--points", "0"), ("--points", "-1"), ("--points", "2.5"), ("--points", "1e3"), ("--points", "1000001"),
    ("--tolerance", "nan"), ("--tolerance", "inf"), ("--tolerance", "-inf"), ("--tolerance", "-1e-6"),
    ("--tolerance", "tiny"),
    ("--seed", "-1"), ("--seed", "1.0"), ("--seed", "x"),
    ("--input-size", "x1=0"), ("--input-size", "x1=-3"), ("--input-size", "x1=2.5"), ("--input-size", "=3"),
    ("--input-size", "x1=\u00b2"),
])
def test_bad_numeric_option_is_an_argparse_error(option, value):
    code, out, err = run_cli("check", EXAMPLE, f"{option}={value}")   # "-1e-6" alone reads as an option
    assert code == 2, out + err
    line = _error_line(err)
    assert line.startswith(f"symnet check: error: argument {option}: expected "), line
    assert repr(value) in line
    assert "internal error" not in err and "Traceback" not in err


def test_numeric_options_at_their_limits_are_accepted():
    code, out, err = run_cli("check", EXAMPLE, "--points", "1", "--seed", "0", "--tolerance", "0.001")
    assert code == 0, out + err
    assert "jacobian: 1 points" in out and "(tolerance 0.001) ok" in out
    code, out, err = run_cli("check", EXAMPLE, "--points", "2", "--seed", "12345678901234567890",
                             "--tolerance", "0")
    assert code in (0, 1) and "jacobian: 2 points" in out, out + err


def test_generate_requires_out_and_writes_nothing_without_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("generate", EXAMPLE, "--target", "python")
    assert code == 2
    assert "the following arguments are required: --out" in _error_line(err)
    assert list(tmp_path.iterdir()) == []
    code, help_text, _ = run_cli("generate", "--help")
    assert code == 0 and "--out OUT" in help_text and "[--out OUT]" not in help_text


# --- --module: a torch state dict from the command line --------------------------------------

MODULE_SOURCE = '''
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(3, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden((x - 0.5) / 2.0)))


class NeedsWidth(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.hidden = nn.Linear(3, width)


class Smaller(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(3, 1)

    def forward(self, x):
        return self.hidden(x)


WIDTH = 4
'''


@pytest.fixture
def state_dict(tmp_path):
    """(folder, module file, state dict file, the trained module) for a small torch net."""
    torch = require_module("torch")
    folder = tmp_path / "user_code"
    folder.mkdir()
    source = folder / f"usernet_{tmp_path.name}.py"    # a fresh module name for every test
    source.write_text(MODULE_SOURCE)
    module = import_file(source, f"reference_{tmp_path.name}")
    torch.manual_seed(7)
    trained = module.Net().double()
    weights = tmp_path / "weights.pt"
    torch.save(trained.state_dict(), weights)
    return folder, source, weights, trained


def _assert_generated_code_computes_the_module(out, trained):
    torch = require_module("torch")
    generated = import_file(out / "net_numpy.py", f"gen_{out.parent.name}_{out.name}")
    X = np.random.default_rng(1).uniform(-2, 2, (6, 3))
    with torch.no_grad():
        expected = trained(torch.tensor(X)).numpy()
    np.testing.assert_allclose(generated.evaluate(X), expected, rtol=1e-12, atol=1e-12)


def test_module_from_a_file_path(state_dict, tmp_path):
    folder, source, weights, trained = state_dict
    code, out, err = run_cli("generate", weights, "--module", f"{source}:Net", "--target", "numpy",
                             "--name", "net", "--out", tmp_path / "by_path")
    assert code == 0, out + err
    _assert_generated_code_computes_the_module(tmp_path / "by_path", trained)


def test_module_by_dotted_name_from_the_current_folder(state_dict, tmp_path, monkeypatch):
    folder, source, weights, trained = state_dict
    monkeypatch.chdir(folder)
    # as under the installed console script, whose sys.path does not hold the current folder
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if entry not in ("", ".", str(folder))])
    code, out, err = run_cli("generate", weights, "--module", f"{source.stem}:Net", "--target", "numpy",
                             "--name", "net", "--out", tmp_path / "by_name")
    assert code == 0, out + err
    _assert_generated_code_computes_the_module(tmp_path / "by_name", trained)
    code, out, err = run_cli("check", weights, "--module", f"{source.stem}:Net")
    assert code == 0 and "ok" in out, out + err


@pytest.mark.parametrize("spec, message", [
    ("{source}:Missing", "has no class 'Missing'"),
    ("{source}:WIDTH", "WIDTH in {source} is not a class but a int"),
    ("{source}:NeedsWidth", "NeedsWidth() failed, and --module builds it with no arguments: TypeError"),
    ("{folder}/absent.py:Net", "no such file"),
    ("no_such_package_for_symnet.models:Net", "cannot import no_such_package_for_symnet.models"),
    ("{folder}/broken.py:Net", "importing {folder}/broken.py failed: ZeroDivisionError"),
])
def test_module_failures_are_one_line_exit_2(state_dict, spec, message):
    folder, source, weights, _ = state_dict
    (folder / "broken.py").write_text("import torch\nVALUE = 1 / 0\n")
    spec, message = (text.format(source=source, folder=folder) for text in (spec, message))
    code, out, err = run_cli("inspect", weights, "--module", spec)
    assert code == 2, out + err
    assert err.startswith(f"symnet: error: {spec}: ") and err.count("\n") == 1, err
    assert message in err


def test_state_dict_that_does_not_fit_the_class(state_dict):
    folder, source, weights, _ = state_dict
    code, _, err = run_cli("inspect", weights, "--module", f"{source}:Smaller")
    assert code == 2
    assert err.startswith(f"symnet: error: {weights}: the state dict does not fit Smaller: ") and err.count("\n") == 1


@pytest.mark.parametrize("spec", ["Net", "file.py", "file.py:", ":Net", "pkg.mod:not-a-name"])
def test_malformed_module_spec_is_an_argparse_error(spec):
    code, _, err = run_cli("inspect", EXAMPLE, "--module", spec)
    assert code == 2
    assert _error_line(err).startswith("symnet inspect: error: argument --module: expected MODULE:CLASS")


def test_state_dict_without_module_names_the_option(state_dict):
    _, _, weights, _ = state_dict
    code, _, err = run_cli("inspect", weights)
    assert code == 2 and "--module package.module:Class" in err


@pytest.mark.parametrize("wrong", ["usernet:Net", 3, None.__class__])
def test_api_module_must_be_a_module_object(state_dict, wrong):
    _, _, weights, _ = state_dict
    with pytest.raises(symnet.SymnetError, match=r"module= takes the torch.nn.Module .*not a "):
        symnet.load(weights, module=wrong)


def test_module_option_names_that_it_runs_user_code():
    code, help_text, _ = run_cli("inspect", "--help")
    assert code == 0
    text = " ".join(help_text.split())
    assert "--module MODULE:CLASS" in text and "imports and runs that code of yours" in text
