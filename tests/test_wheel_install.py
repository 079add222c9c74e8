"""symnet as a user installs it: ``pip install .`` builds a wheel, and everything must
work from that wheel alone, away from the checkout.

The checkout is copied to a temporary folder and built there with setuptools' own
build hooks (PEP 517): a wheel straight from the source tree (what ``pip install .``
does) and a wheel from the sdist (what ``python -m build`` and package indexes do).
Both wheels and the sdist must hold every template.  The wheel is installed,
non-editable, into a fresh virtual environment outside the checkout, and that
environment's ``symnet`` console script generates every target for
examples/pxyz.json, with the working folder outside the checkout and no PYTHONPATH;
each generated self-check then runs (Python and NumPy with the environment's
python, C with gcc's strict warnings, MATLAB in GNU Octave, LaTeX with pdflatex).

Why the environment borrows its dependencies: installing sympy, numpy, scipy and
jinja2 from the package index takes minutes and fails offline, and would test the
index rather than symnet's packaging.  So the fresh environment gets a ``.pth`` file
naming the folders where the running interpreter finds exactly those four packages,
and the wheel is installed with ``--no-deps``; the test asserts that symnet itself
is imported from the fresh environment, never from the checkout.  Building needs
setuptools in the running interpreter (it is in the test extra) and no network.

A missing gcc, octave-cli or pdflatex skips its check on a developer's machine and
fails it in CI, as everywhere in the suite.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import REPO
from helpers import require_module, require_tool

require_module("setuptools")   # the build backend, in the test extra

NAME = "pxyz"
STRICT_C = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
#: what a checkout may hold that is not part of the project's source
NOT_SOURCE = (".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
              ".hypothesis", "out")
#: the packages symnet needs at run time (pyproject.toml's dependencies)
DEPENDENCIES = ("sympy", "mpmath", "numpy", "scipy", "jinja2")


def _run(command, cwd, timeout=600, env=None):
    result = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, env=env)
    assert result.returncode == 0, f"{command}: exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _build(hook, source, destination):
    """Run setuptools' PEP 517 ``hook`` (build_wheel or build_sdist) in ``source``; the built file."""
    destination.mkdir(parents=True, exist_ok=True)
    code = f"import sys; from setuptools import build_meta; print(build_meta.{hook}(sys.argv[1]))"
    result = _run([sys.executable, "-c", code, destination], cwd=source, env=_clean_environment())
    return destination / result.stdout.strip().splitlines()[-1]


def _clean_environment():
    """The environment without PYTHONPATH (the test suite may run with the checkout on it)."""
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}


def _template_names():
    """Every file under templates/: the jinja templates and the FMI headers the fmu target copies."""
    return sorted(str(p.relative_to(REPO / "templates")) for p in (REPO / "templates").rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(sdist, wheel from the tree, wheel from the sdist)."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    sdist = _build("build_sdist", source, root / "sdist")
    wheel = _build("build_wheel", source, root / "wheel")
    with tarfile.open(sdist) as archive:
        archive.extractall(root / "unpacked", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    unpacked = next((root / "unpacked").iterdir())
    wheel_from_sdist = _build("build_wheel", unpacked, root / "wheel_from_sdist")
    return sdist, wheel, wheel_from_sdist


@pytest.fixture(scope="module")
def environment(built, tmp_path_factory):
    """A fresh virtual environment outside the checkout with the wheel installed: its bin folder."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", venv], cwd=venv.parent, env=_clean_environment())
    bin_dir = venv / "bin"
    python = bin_dir / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                     cwd=venv.parent).stdout.strip())
    borrowed = sorted({str(Path(importlib.util.find_spec(name).origin).parent.parent) for name in DEPENDENCIES})
    (site / "borrowed_dependencies.pth").write_text("\n".join(borrowed) + "\n")
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", built[1]], cwd=venv.parent,
         env=_clean_environment())
    where = _run([python, "-c", "import symnet; print(symnet.__file__)"], cwd=venv.parent,
                 env=_clean_environment()).stdout.strip()
    assert Path(where).resolve().is_relative_to(venv.resolve()), f"symnet imported from {where}, not the wheel"
    return bin_dir


@pytest.fixture(scope="module")
def generated(environment, tmp_path_factory):
    """Every target for the bundled example, written by the installed console script."""
    work = tmp_path_factory.mktemp("user")
    _run([environment / "symnet", "generate", REPO / "examples" / "pxyz.json", "--target", "all",
          "--derivatives", "value,gradient,jacobian,hessian", "--name", NAME, "--out", "out"],
         cwd=work, env=_clean_environment())
    return work / "out"


def test_sdist_and_wheels_hold_every_template(built):
    expected = _template_names()
    assert expected, "no templates in the checkout"
    sdist, wheel, wheel_from_sdist = built
    with tarfile.open(sdist) as archive:
        in_sdist = sorted(member.name.split("/symnet/templates/", 1)[1] for member in archive.getmembers()
                          if "/symnet/templates/" in member.name and member.isfile())
    assert in_sdist == expected
    for path in (wheel, wheel_from_sdist):
        with zipfile.ZipFile(path) as archive:
            in_wheel = sorted(name.removeprefix("symnet/templates/") for name in archive.namelist()
                              if name.startswith("symnet/templates/"))
        assert in_wheel == expected, path.name


def test_installed_console_script_writes_every_target(generated):
    written = {p.name for p in generated.iterdir()}
    for expected in (f"{NAME}.py", f"{NAME}_numpy.py", f"{NAME}.h", f"{NAME}.c", f"{NAME}_jacobian.m",
                     f"{NAME}.tex", f"{NAME}_check.py", f"{NAME}_numpy_check.py", f"{NAME}_check.c",
                     f"{NAME}_check.m", f"{NAME}.fmu"):
        assert expected in written


@pytest.mark.parametrize("script", [f"{NAME}_check.py", f"{NAME}_numpy_check.py"])
def test_python_self_checks_pass(environment, generated, script):
    _run([environment / "python", script], cwd=generated, env=_clean_environment())


def test_c_self_check_passes(generated):
    gcc = require_tool("gcc")
    _run([gcc, *STRICT_C, f"{NAME}_check.c", f"{NAME}.c", "-lm", "-o", "check"], cwd=generated)
    _run([generated / "check"], cwd=generated)


def test_matlab_self_check_passes_in_octave(generated):
    octave = require_tool("octave-cli")
    result = _run([octave, "--no-gui", "--norc", "--quiet", "--eval", f"{NAME}_check"], cwd=generated)
    assert "checks passed" in result.stdout, result.stdout


def test_latex_document_compiles(generated):
    pdflatex = require_tool("pdflatex")
    _run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", f"{NAME}.tex"],
         cwd=generated)
    log = (generated / f"{NAME}.log").read_text(errors="replace")
    assert "Undefined control sequence" not in log and "\n! " not in log, log[-3000:]


def test_demo_runs_with_the_installed_package(environment, tmp_path):
    result = _run([environment / "python", REPO / "examples" / "pxyz_demo.py", tmp_path / "demo"],
                  cwd=tmp_path, env=_clean_environment())
    assert "relative error" in result.stdout
