"""The C, MATLAB/Octave and LaTeX targets, proven on real toolchains: the C code
is compiled with strict warnings and run, the MATLAB files run in GNU Octave on
a batch, the LaTeX compiles with pdflatex, and every shipped self-check passes
and fails when one of its expected numbers is corrupted.

Reference for every comparison: ``closed_form(net, what)(X)`` (tests/helpers.py), sympy's own
NumPy printing of the unsimplified program (no symnet printer or template).
"""

import py_compile
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import symnet
from symnet.ir import transfer
from symnet.reference.finite_differences import compare, sample_points

import runners
from conftest import REPO
from helpers import closed_form, random_network, require_tool

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
DOUBLE_BOUND = 1e-12
#: Documented in docs/targets.md (Self-check): float C code against the double
#: reference at the same (float32) points, relative error as measured by symnet.reference.finite_differences.compare.
FLOAT_BOUND = 1e-3
FUNCTIONS = {"value": "evaluate", "gradient": "gradient", "jacobian": "jacobian", "hessian": "hessian"}
EVERY_TRANSFER = tuple(name for name in sorted(transfer.REGISTRY) if name != "expression")

# Depths 1-4, kinks, softmax, several inputs and outputs, cascade links, removed rows.
NETWORKS = (("random0", 0, None), ("random1", 1, None), ("random10", 10, None), ("random14", 14, None),
            ("random16", 16, None), ("random29", 29, None), ("wide3", 3, EVERY_TRANSFER),
            ("wide8", 8, EVERY_TRANSFER))


@dataclass
class Case:
    label: str
    net: object
    name: str
    derivatives: tuple
    folder: Path        # every target, double
    float_folder: Path  # C, float
    X: np.ndarray       # a batch of raw inputs (rows)

    def reference(self, what, X=None):
        return closed_form(self.net, what)(self.X if X is None else X)

    def shape(self, what):
        n_in, n_out = self.net.n_inputs, self.net.n_outputs
        return {"value": (n_out,), "gradient": (n_in,), "jacobian": (n_out, n_in),
                "hessian": (n_out, n_in, n_in)}[what]


def _networks():
    yield "pxyz", symnet.load(REPO / "examples" / "pxyz.json")
    for label, seed, transfers in NETWORKS:
        yield label, (random_network(seed) if transfers is None else random_network(seed, transfers=transfers))
    from test_whole_layer import normed_network
    yield "normed", normed_network(width=12)   # rms_norm above the layered threshold: layered C, double and float


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("embedded")
    result = []
    for index, (label, net) in enumerate(_networks()):
        derivatives = ("value",) + (("gradient",) if net.n_outputs == 1 else ()) + ("jacobian", "hessian")
        case = Case(label, net, f"net{index}", derivatives, root / label / "double", root / label / "float",
                    sample_points(net, 4, seed=3))
        symnet.generate(net, ["all"], case.folder, derivatives=derivatives, name=case.name)
        symnet.generate(net, ["c"], case.float_folder, derivatives=derivatives, name=case.name, precision="float")
        result.append(case)
    return result


CASE_IDS = ["pxyz"] + [label for label, _, _ in NETWORKS] + ["normed"]


def run(command, cwd, timeout=300, stdin=None):
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, input=stdin)


# --- C ------------------------------------------------------------------------------------

DRIVER = """#include <stdio.h>
#include "{name}.h"
#define POINTS {points}
int main(void)
{{
    static {real} x[POINTS * {macro}_N_INPUTS];
    static {real} out[POINTS * {macro}_N_OUTPUTS * {macro}_N_INPUTS * {macro}_N_INPUTS];
    int i;
    double v;
    for (i = 0; i < POINTS * {macro}_N_INPUTS; ++i) {{
        if (scanf("%lf", &v) != 1) {{
            return 2;
        }}
        x[i] = ({real})v;
    }}
{calls}
    return 0;
}}
"""

CALL = """    {function}_batch((size_t)POINTS, x, out);
    for (i = 0; i < POINTS * {size}; ++i) {{
        printf("%.17g\\n", (double)out[i]);
    }}
"""


def compile_c(folder, sources, output, extra=()):
    gcc = require_tool("gcc")
    result = run([gcc, *STRICT, *extra, *sources, "-lm", "-o", output], folder)
    assert result.returncode == 0, result.stderr[-5000:]
    return folder / output


def run_c_batch(case, folder, real, X):
    """Every generated function's batch variant at the rows of X, via a small driver."""
    calls = "".join(CALL.format(function=f"{case.name}_{FUNCTIONS[what]}", size=int(np.prod(case.shape(what))))
                    for what in case.derivatives)
    driver = DRIVER.format(name=case.name, macro=case.name.upper(), points=len(X), real=real, calls=calls)
    (folder / "driver.c").write_text(driver)
    extra = ["-Wconversion"] if real == "float" else []
    program = compile_c(folder, ["driver.c", f"{case.name}.c"], "driver", extra)
    result = run([str(program)], folder, timeout=60, stdin=" ".join(repr(float(v)) for v in X.reshape(-1)))
    assert result.returncode == 0, result.stderr
    values = np.array([float(v) for v in result.stdout.split()])
    outputs, start = {}, 0
    for what in case.derivatives:
        shape = (len(X),) + case.shape(what)
        outputs[what] = values[start:start + int(np.prod(shape))].reshape(shape)
        start += int(np.prod(shape))
    return outputs


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_c_double_agrees_with_the_numpy_path(cases, index):
    case = cases[index]
    results = run_c_batch(case, case.folder, "double", case.X)
    for what in case.derivatives:
        error = compare(results[what], case.reference(what)).max_rel_error
        assert error <= DOUBLE_BOUND, (case.label, what, error)


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_c_float_compiles_with_wconversion_and_stays_within_its_bound(cases, index):
    case = cases[index]
    X = case.X.astype(np.float32).astype(float)
    text = (case.float_folder / f"{case.name}.c").read_text()
    assert "double" not in text and re.search(r"\b(tanh|exp|log)\(", text) is None
    results = run_c_batch(case, case.float_folder, "float", X)
    for what in case.derivatives:
        error = compare(results[what], case.reference(what, X)).max_rel_error
        assert error <= FLOAT_BOUND, (case.label, what, error)


def test_c_files_keep_their_contract(cases):
    case = cases[0]
    header = (case.folder / f"{case.name}.h").read_text()
    source = (case.folder / f"{case.name}.c").read_text()
    macro = case.name.upper()
    for text in (f"#ifndef {macro}_H", f"#define {macro}_N_INPUTS 3", f"#define {macro}_N_OUTPUTS 1",
                 'extern "C" {', f"void {case.name}_jacobian(const double *x, double *jac);",
                 f"void {case.name}_hessian_batch(size_t n, const double *{macro}_RESTRICT x,"
                 f" double *{macro}_RESTRICT hess);", "must not overlap x"):
        assert text in header
    assert f"#define {macro}_RESTRICT restrict" in header
    # the header's batch prototypes say what the definitions say
    for function in re.findall(r"void (\w+_batch)\(", source):
        assert re.search(rf"void {function}\(size_t n, const double \*restrict x, double \*restrict \w+\)", source)
    assert "malloc" not in source and "#include <math.h>" in source
    # no file-scope variables: every top-level line is a directive, comment, brace or a function head
    top_level = [line for line in source.splitlines() if line and not line[0].isspace()]
    assert all(re.match(r"(#|/\*| \*|\*/|[{}]|void \w+\()", line) for line in top_level), top_level


CPP_DRIVER = """#include <cstdio>
#include "{name}.h"

int main()
{{
    double x[{points} * {macro}_N_INPUTS] = {{ {values} }};
    double jac[{points} * {macro}_N_OUTPUTS * {macro}_N_INPUTS];
    {name}_jacobian_batch({points}, x, jac);
    for (double v : jac) std::printf("%.17g\\n", v);
    return 0;
}}
"""


def test_cpp_includes_the_header_and_links_the_c_compiled_as_c(cases):
    """C++ has no restrict keyword: the header drops it there, so C++ code can call the C functions."""
    case = cases[0]
    gxx = require_tool("g++")
    compile_object = run([require_tool("gcc"), *STRICT, "-c", f"{case.name}.c", "-o", "model.o"], case.folder)
    assert compile_object.returncode == 0, compile_object.stderr[-3000:]
    values = ", ".join(repr(float(v)) for v in case.X.reshape(-1))
    driver = CPP_DRIVER.format(name=case.name, macro=case.name.upper(), points=len(case.X), values=values)
    (case.folder / "driver.cpp").write_text(driver)
    build = run([gxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic", "driver.cpp", "model.o", "-lm",
                 "-o", "cpp_driver"], case.folder)
    assert build.returncode == 0, build.stderr[-3000:]
    result = run([str(case.folder / "cpp_driver")], case.folder, timeout=60)
    assert result.returncode == 0, result.stderr
    jacobian = np.array([float(v) for v in result.stdout.split()]).reshape((len(case.X),) + case.shape("jacobian"))
    assert compare(jacobian, case.reference("jacobian")).max_rel_error <= DOUBLE_BOUND


# --- MATLAB / Octave -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def octave_run(cases, tmp_path_factory):
    """One Octave process: every case's functions on its batch, and every self-check."""
    octave = require_tool("octave-cli")
    lines = ["more off;"]
    for case in cases:
        rows = "; ".join(" ".join(repr(float(v)) for v in column) for column in case.X.T)
        lines += [f"cd('{case.folder}');", f"X = [{rows}];"]
        for what in case.derivatives:
            lines += [f"R = {case.name}_{FUNCTIONS[what]}(X);",
                      f"fid = fopen('octave_{what}.txt', 'w'); fprintf(fid, '%.17g\\n', R); fclose(fid);"]
        lines += [f"try; {case.name}_check(); catch err; disp(['CHECK FAILED: ' err.message]); end"]
    script = tmp_path_factory.mktemp("octave") / "run_all.m"
    script.write_text("\n".join(lines) + "\n")
    result = run([octave, "-q", "--no-gui", str(script)], script.parent, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_octave_batch_agrees_with_the_numpy_path(cases, octave_run, index):
    case = cases[index]
    for what in case.derivatives:
        values = np.loadtxt(case.folder / f"octave_{what}.txt")
        got = np.moveaxis(values.reshape(case.shape(what) + (len(case.X),), order="F"), -1, 0)
        error = compare(got, case.reference(what)).max_rel_error
        assert error <= DOUBLE_BOUND, (case.label, what, error)


def test_octave_self_checks_pass(cases, octave_run):
    assert "CHECK FAILED" not in octave_run
    for case in cases:
        assert re.search(rf"^{case.name}: all \d+ checks passed", octave_run, re.M), octave_run


OCTAVE_ONLY = (r"#", r"!", r"\+=", r"-=", r"\*=", '"', r"\bendfunction\b", r"\bendif\b", r"\bendfor\b",
               r"\bprintf\(", r"\bunwind_protect\b", r"\bcell\b", r"\{")


def test_matlab_files_use_only_syntax_common_to_matlab_and_octave(cases):
    for case in cases:
        for path in case.folder.glob("*.m"):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                code = line.split("%", 1)[0]
                for pattern in OCTAVE_ONLY:
                    assert not re.search(pattern, code), f"{path.name}:{number}: {line}"


def test_matlab_help_block_describes_usage_and_sizes(cases):
    octave = require_tool("octave-cli")
    case = cases[0]
    result = run([octave, "-q", "--no-gui", "--eval", f"help {case.name}_jacobian"], case.folder)
    assert "for X of size 3-by-Q" in result.stdout
    assert "J is 1-by-3-by-Q" in result.stdout and "mapminmax" in result.stdout


# --- LaTeX -------------------------------------------------------------------------------------

def pdflatex(folder, name):
    tool = require_tool("pdflatex")
    result = run([tool, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], folder, timeout=180)
    log = (folder / f"{name}.log").read_text(errors="replace")
    assert result.returncode == 0, log[-3000:]
    assert "Undefined control sequence" not in log and not re.search(r"^! ", log, re.M), log[-3000:]
    return log


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_latex_compiles_with_pdflatex(cases, index):
    case = cases[index]
    pdflatex(case.folder, case.name)
    assert (case.folder / f"{case.name}.pdf").stat().st_size > 1000


def test_latex_holds_index_form_constants_and_a_bounded_closed_form(cases):
    text = (cases[0].folder / f"{cases[0].name}_equations.tex").read_text()
    assert r"\tilde{x}_i = g^{x}_i\,(x_i - o^{x}_i) - 1" in text
    assert r"n^{(1)}_j = b^{(1)}_j + \sum_{i=1}^{3} \mathrm{IW}^{(1,1)}_{ji}\, \tilde{x}_i" in text
    assert "0.12812064259594097" in text        # IW(1,1) entry, exact
    assert r"\partial y_{1} / \partial x_{1} = " in text
    assert "hessian has" in text and "more than" in text   # above the size limit: a message


def test_latex_escapes_hostile_names(tmp_path):
    net = symnet.Network([symnet.Input("a_b$c&d#e^f~g<h>|%", 1)],
                         [symnet.Layer(1, "tansig", [0.1], [(0, [[2.0]])])],
                         [symnet.Output(r"out\put{x}", 0)], name=r"evil \input{/etc/passwd} $x$ name")
    symnet.generate(net, ["latex", "c"], tmp_path, derivatives=["value", "hessian"])
    tex = next(tmp_path.glob("*_equations.tex")).read_text()
    assert "/etc/passwd}" not in tex and r"\input{/" not in tex
    pdflatex(tmp_path, next(tmp_path.glob("*_equations.tex")).stem.replace("_equations", ""))


# --- self-checks ----------------------------------------------------------------------------------

def c_self_check(folder, name, extra=()):
    """The shared runner with this file's optimisation level (STRICT)."""
    return runners.c_self_check(folder, name, ["-O2", *extra])


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_shipped_self_checks_pass(cases, index):
    case = cases[index]
    outcomes = [c_self_check(case.folder, case.name), c_self_check(case.float_folder, case.name, ["-Wconversion"])]
    for module in (case.name, f"{case.name}_numpy"):
        outcomes.append(runners.python_self_check(case.folder, f"{module}_check.py"))
    for outcome in outcomes:
        runners.assert_passed(outcome)


def corrupt(path, start, stop, factor):
    """Scale the largest expected number between the markers ``start`` and ``stop``."""
    text = path.read_text()
    begin = text.index(start) + len(start)
    end = text.index(stop, begin)
    numbers = list(re.finditer(r"-?\d+\.\d+(?:e[-+]?\d+)?", text[begin:end]))
    target = max(numbers, key=lambda match: abs(float(match.group(0))))
    value = float(target.group(0)) * factor
    path.write_text(text[:begin + target.start()] + repr(value) + text[begin + target.end():])


@pytest.mark.parametrize("index", [0, 3], ids=["pxyz", "random10"])
def test_self_checks_fail_on_a_corrupted_test_vector(cases, index, tmp_path):
    case = cases[index]
    folder = tmp_path / "double"
    shutil.copytree(case.folder, folder)
    shutil.copytree(case.float_folder, tmp_path / "float")
    corrupt(folder / f"{case.name}_check.c", "expected_jacobian[", "};", 1 + 1e-8)
    corrupt(tmp_path / "float" / f"{case.name}_check.c", "expected_value[", "};", 1.01)
    corrupt(folder / f"{case.name}_check.py", '"jacobian": [', "],", 1.05)
    corrupt(folder / f"{case.name}_numpy_check.py", '"evaluate": [', "],", 1.05)
    corrupt(folder / f"{case.name}_check.m", "expected = [", "];", 1.05)
    outcomes = [c_self_check(folder, case.name), c_self_check(tmp_path / "float", case.name, ["-Wconversion"]),
                runners.python_self_check(folder, f"{case.name}_check.py"),
                runners.python_self_check(folder, f"{case.name}_numpy_check.py"),
                runners.octave_self_check(folder, case.name)]
    for outcome in outcomes:
        text = outcome.stdout + outcome.stderr
        assert outcome.returncode != 0 and "FAILED" in text, text


# --- determinism, syntax ---------------------------------------------------------------------------

def test_generating_twice_gives_identical_bytes(cases, tmp_path):
    case = cases[3]
    symnet.generate(case.net, ["all"], tmp_path / "double", derivatives=case.derivatives, name=case.name)
    symnet.generate(case.net, ["c"], tmp_path / "float", derivatives=case.derivatives, name=case.name,
                    precision="float")
    for first, second in ((case.folder, tmp_path / "double"), (case.float_folder, tmp_path / "float")):
        names = sorted(p.name for p in second.iterdir())
        assert names and all((first / n).read_bytes() == (second / n).read_bytes() for n in names)


def test_generated_python_compiles(cases):
    for case in cases:
        for path in case.folder.glob("*.py"):
            py_compile.compile(str(path), doraise=True, cfile=str(path.with_suffix(".pyc")))


def test_cli_generates_every_target_in_float(tmp_path):
    from symnet.cli import main
    assert main(["generate", str(REPO / "examples" / "pxyz.json"), "--target", "all", "--precision", "float",
                 "--out", str(tmp_path), "--name", "p"]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"p.h", "p.c", "p_check.c", "p_jacobian.m", "p_check.m", "p.tex", "p_equations.tex"} <= names
    assert "float" in (tmp_path / "p.h").read_text()


# --- the high-precision reference behind the self-checks --------------------------------------

@pytest.mark.parametrize("seed", [0, 3, 8, 10, 16])
def test_high_precision_reference_agrees_with_the_symbolic_path(seed):
    from symnet.reference.high_precision import reference_values
    net = random_network(seed, transfers=EVERY_TRANSFER) if seed in (3, 8) else random_network(seed)
    X = sample_points(net, 3, seed=5)
    for what in ("value", "jacobian", "hessian"):
        error = compare(reference_values(net, what, X), closed_form(net, what)(X)).max_rel_error
        assert error <= 1e-12, (seed, what, error)


def test_high_precision_reference_matches_sympy_at_50_digits():
    """A 1-2-1 tanh network written out by hand in sympy, evaluated at 50 digits."""
    from symnet.reference.high_precision import reference_values
    net = symnet.Network([symnet.Input("x", 1, [symnet.MapMinMax([2.0], [0.5], -1.0)])],
                         [symnet.Layer(2, "tansig", [0.1, -0.3], [(0, [[1.5], [-0.7]])]),
                          symnet.Layer(1, "purelin", [0.2], layer_weights=[(0, [[0.9, 1.1]])])],
                         [symnet.Output("y", 1, [symnet.MapMinMax([1.0], [4.0], -1.0)])])
    import sympy as sp
    x = sp.Symbol("x")
    u = sp.Float(0.5, 50) * (x - 2) - 1
    n2 = sp.Float(0.2, 50) + sp.Float(0.9, 50) * sp.tanh(sp.Float(1.5, 50) * u + sp.Float(0.1, 50)) \
        + sp.Float(1.1, 50) * sp.tanh(-sp.Float(0.7, 50) * u - sp.Float(0.3, 50))
    y = (n2 + 1) / 4 + 1
    point = 3.25
    expected = [float(e.subs(x, sp.Float(point, 50)).evalf(50)) for e in (y, sp.diff(y, x), sp.diff(y, x, 2))]
    got = [reference_values(net, what, [[point]]).reshape(-1)[0] for what in ("value", "jacobian", "hessian")]
    assert got == expected
