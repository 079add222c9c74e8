"""Build and run what every registered target generates, so that tests which must
cover all targets (numeric safety, hostile names, properties) iterate over
``symnet.emit.target_names()`` and call ``build(target, ...)``.

A runner turns the generated files into a ``Built`` whose ``evaluate(what, X)``
returns the target's own results for the points X, shaped
(n_points,) + shape of ``what``.  Targets that are documents rather than code
(LaTeX) have ``evaluate = None`` and a ``verify()`` that compiles them.  A
target without a runner makes these tests fail, naming the target: add its
runner here.
"""

import re
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

import symnet
from symnet.emit.common import safe_identifier
from symnet.emit.common import FUNCTION_NAMES

from helpers import import_file

_counter = [0]


@dataclass
class Built:
    """Generated code of one target, ready to run (or, for documents, to verify)."""

    target: str
    paths: tuple
    evaluate: Optional[Callable] = None     # (what, X) -> array (n_points,) + shape
    verify: Optional[Callable] = None       # () -> None, raises on failure
    many: Optional[Callable] = None         # (whats, X) -> {what: array}, one run for all

    def check(self):
        if self.verify is not None:
            self.verify()

    def evaluate_many(self, whats, X):
        """{what: results} for several derivatives at once (one Octave process for MATLAB)."""
        if self.many is not None:
            return self.many(whats, X)
        return {what: self.evaluate(what, X) for what in whats}


def shape_of(net, what):
    n_in, n_out = net.n_inputs, net.n_outputs
    return {"value": (n_out,), "gradient": (n_in,), "jacobian": (n_out, n_in),
            "hessian": (n_out, n_in, n_in)}[what]


def _unique(prefix):
    _counter[0] += 1
    return f"{prefix}_{_counter[0]}"


def _self_check(folder, script):
    """Run a generated Python self-check script, if the target writes one."""
    def verify():
        if (folder / script).exists():
            assert_passed(python_self_check(folder, script))
    return verify


def _python(net, folder, name, paths):
    module = import_file(folder / f"{name}.py", _unique(f"gen_{name}"))

    def evaluate(what, X):
        function = getattr(module, FUNCTION_NAMES[what])
        return np.array([function(list(map(float, x))) for x in np.asarray(X, dtype=float)], dtype=float)
    return Built("python", paths, evaluate, _self_check(folder, f"{name}_check.py"))


def _numpy(net, folder, name, paths):
    module = import_file(folder / f"{name}_numpy.py", _unique(f"gen_{name}_numpy"))

    def evaluate(what, X):
        with np.errstate(all="ignore"):
            return np.asarray(getattr(module, FUNCTION_NAMES[what])(np.asarray(X, dtype=float)), dtype=float)
    return Built("numpy", paths, evaluate, _self_check(folder, f"{name}_numpy_check.py"))


#: gcc options the generated C must pass without a warning
STRICT_C = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1")

_C_DRIVER = """#include <stdio.h>
#include <stdlib.h>
#include "{name}.h"

/* usage: driver FUNCTION N IN OUT: N points of {n_inputs} doubles from IN, results to OUT */
int main(int argc, char **argv)
{{
    size_t n, size;
    double *x, *out;
    FILE *file;
    if (argc != 5) return 2;
    n = (size_t)strtoul(argv[2], NULL, 10);
    size = (size_t)strtoul(argv[1] + 1, NULL, 10);
    x = malloc((n * {n_inputs} + 1) * sizeof *x);
    out = malloc((n * size + 1) * sizeof *out);
    if (x == NULL || out == NULL) return 3;
    file = fopen(argv[3], "rb");
    if (file == NULL || fread(x, sizeof *x, n * {n_inputs}, file) != n * {n_inputs}) return 4;
    fclose(file);
{calls}
    file = fopen(argv[4], "wb");
    if (file == NULL || fwrite(out, sizeof *out, n * size, file) != n * size) return 5;
    fclose(file);
    free(x);
    free(out);
    return 0;
}}
"""


def _run(command, folder, timeout=300):
    import subprocess
    return subprocess.run([str(c) for c in command], cwd=folder, capture_output=True, text=True, timeout=timeout)


#: what every generated self-check prints when it passes (templates/*/check.*.j2)
PASSED = re.compile(r"\ball (\d+) checks passed\b")


def assert_passed(run, checks=None):
    """``run``, a finished self-check, exited 0 and printed "all N checks passed" (N =
    ``checks`` where given); returns it."""
    found = PASSED.search(run.stdout)
    assert run.returncode == 0 and found is not None, run.stdout[-3000:] + run.stderr[-3000:]
    assert checks is None or int(found.group(1)) == checks, (checks, run.stdout[-3000:])
    return run


def python_self_check(folder, script):
    """Run the generated Python or NumPy self-check ``script`` in ``folder``; the finished run
    (not asserted: a corrupted test vector must fail it)."""
    import sys
    return _run([sys.executable, script], folder)


def c_self_check(folder, name, extra=()):
    """Compile ``folder``'s NAME_check.c with NAME.c (STRICT_C, then ``extra``: a later -O wins)
    and run it; the finished run (not asserted).  The compilation must pass without a warning."""
    from helpers import require_tool
    build = _run([require_tool("gcc"), *STRICT_C, *extra, f"{name}_check.c", f"{name}.c", "-lm", "-o", "check"],
                 folder)
    assert build.returncode == 0, f"gcc check: {build.stderr[-4000:]}"
    return _run([folder / "check"], folder)


def octave_self_check(folder, name):
    """Run the generated MATLAB self-check NAME_check in GNU Octave; the finished run (not asserted)."""
    from helpers import require_tool
    return _run([require_tool("octave-cli"), "--no-gui", "--norc", "--quiet", "--eval", f"{name}_check"], folder,
                timeout=600)


def run_self_checks(folder, name):
    """Run the self-checks ``symnet generate --target numpy --target python --target c`` wrote
    for ``name`` in ``folder`` (the C one compiled with STRICT_C): each must pass all its checks."""
    for script in (f"{name}_numpy_check.py", f"{name}_check.py"):
        assert_passed(python_self_check(folder, script))
    assert_passed(c_self_check(folder, name))


def _c_driver(net, folder, name):
    """Compile ``folder``'s NAME.c with a driver that calls the batch functions (binary
    doubles in and out: exact, inf and NaN included); returns evaluate(what, X)."""
    from helpers import require_tool
    gcc = require_tool("gcc")
    present = [what for what in FUNCTION_NAMES if (folder / f"{name}.h").read_text().count(
        f"{name}_{FUNCTION_NAMES[what]}_batch(") == 1]
    calls = "\n".join(f'    if (argv[1][0] == \'{"vgjh"["value gradient jacobian hessian".split().index(w)]}\')'
                      f" {name}_{FUNCTION_NAMES[w]}_batch(n, x, out);" for w in present)
    (folder / "driver.c").write_text(_C_DRIVER.format(name=name, n_inputs=net.n_inputs, calls=calls))
    result = _run([gcc, *STRICT_C, "driver.c", f"{name}.c", "-lm", "-o", "driver"], folder)
    assert result.returncode == 0, f"gcc driver: {result.stderr[-4000:]}"

    def evaluate(what, X):
        X = np.ascontiguousarray(X, dtype="<f8")
        X.tofile(folder / "x.bin")
        size = int(np.prod(shape_of(net, what)))
        code = "vgjh"["value gradient jacobian hessian".split().index(what)] + str(size)
        result = _run([folder / "driver", code, len(X), "x.bin", "y.bin"], folder)
        assert result.returncode == 0, result.stderr
        return np.fromfile(folder / "y.bin", dtype="<f8").reshape((len(X),) + shape_of(net, what))
    return evaluate


def _c(net, folder, name, paths):
    """The generated C through a driver (``_c_driver``); also compile and run the
    generated self-check program."""
    from helpers import require_tool
    gcc = require_tool("gcc")
    evaluate = _c_driver(net, folder, name)
    result = _run([gcc, *STRICT_C, f"{name}_check.c", f"{name}.c", "-lm", "-o", "check"], folder)
    assert result.returncode == 0, f"gcc check: {result.stderr[-4000:]}"

    def verify():
        assert_passed(_run([folder / "check"], folder))
    return Built("c", paths, evaluate, verify)


def _matlab(net, folder, name, paths):
    """Run the function files in GNU Octave (octave-cli), exact doubles in and out."""
    from helpers import require_tool
    from octave_runner import OctaveJob, run_octave
    octave = require_tool("octave-cli")

    def many(whats, X):
        X = np.asarray(X, dtype=float)
        code = "\n".join(f"y{k} = reshape({name}_{FUNCTION_NAMES[what]}(x1), [], size(x1, 2));"
                         for k, what in enumerate(whats, start=1))
        result = run_octave(octave, [OctaveJob(folder, [X], code, len(whats))], folder, timeout=600)[0]
        assert not isinstance(result, str), result
        values = {}
        for what, columns in zip(whats, result):
            shape = shape_of(net, what)   # Octave's layout is column-major: reverse the axes back
            values[what] = columns.reshape((len(X),) + shape[::-1]).transpose(
                (0,) + tuple(range(len(shape), 0, -1)))
        return values

    def evaluate(what, X):
        return many((what,), X)[what]

    def verify():
        assert_passed(octave_self_check(folder, name))
    return Built("matlab", paths, evaluate, verify, many)


def _latex(net, folder, name, paths):
    """A document: it must compile with pdflatex, without an error or undefined macro."""
    from helpers import require_tool
    pdflatex = require_tool("pdflatex")

    def verify():
        result = _run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                       f"{name}.tex"], folder, timeout=300)
        log = (folder / f"{name}.log").read_text(errors="replace")
        assert result.returncode == 0, log[-3000:]
        assert "Undefined control sequence" not in log and "\n! " not in log, log[-3000:]
    return Built("latex", paths, None, verify)


def open_fmu(path, kind="ModelExchange"):
    """An FMPy FMU2Model of the archive at ``path``, instantiated and initialized
    (inputs at their start values); the caller terminates and frees it."""
    from helpers import require_module
    fmpy = require_module("fmpy")
    from fmpy.fmi2 import FMU2Model, FMU2Slave
    description = fmpy.read_model_description(str(path))
    folder = fmpy.extract(str(path))
    interface = description.modelExchange if kind == "ModelExchange" else description.coSimulation
    model = (FMU2Model if kind == "ModelExchange" else FMU2Slave)(
        guid=description.guid, unzipDirectory=folder, modelIdentifier=interface.modelIdentifier,
        instanceName="test")
    model.instantiate()
    model.setupExperiment(startTime=0.0)
    model.enterInitializationMode()
    model.exitInitializationMode()
    return model


def _fmu(net, folder, name, paths):
    """Values and Jacobians through FMPy (fmi2GetReal, fmi2GetDirectionalDerivative with
    unit seeds) of the archive's linux64 binary; the other derivatives from the C sources
    it carries, compiled with a driver; the sources must pass the strict C flags."""
    import zipfile
    from helpers import require_tool
    gcc = require_tool("gcc")
    sources = folder / "sources"
    with zipfile.ZipFile(folder / f"{name}.fmu") as archive:
        for member in archive.namelist():
            if member.startswith("sources/"):
                (sources / member[len("sources/"):]).parent.mkdir(parents=True, exist_ok=True)
                (sources / member[len("sources/"):]).write_bytes(archive.read(member))
    c_built = _c_driver(net, sources, name)
    n_in, n_out = net.n_inputs, net.n_outputs
    inputs, outputs = list(range(n_in)), list(range(n_in, n_in + n_out))

    def through_fmpy(what, X):
        model = open_fmu(folder / f"{name}.fmu")
        try:
            results = []
            for x in np.asarray(X, dtype=float):
                model.setReal(inputs, list(map(float, x)))
                if what == "value":
                    results.append(model.getReal(outputs))
                else:
                    results.append(np.column_stack([model.getDirectionalDerivative(outputs, [k], [1.0])
                                                    for k in inputs]))
            return np.array(results, dtype=float).reshape((len(X),) + shape_of(net, what))
        finally:
            model.terminate()
            model.freeInstance()

    def evaluate(what, X):
        return through_fmpy(what, X) if what in ("value", "jacobian") else c_built(what, X)

    def verify():
        result = _run([gcc, *STRICT_C, "-c", f"{name}_fmi2.c", f"{name}.c"], sources)
        assert result.returncode == 0, result.stderr[-4000:]
    return Built("fmu", paths, evaluate, verify)


def _casadi(net, folder, name, paths):
    """Build the CasADi external (strict C, shared library), load it with casadi.external
    and evaluate through CasADi: the value, the Jacobian function CasADi's own
    ``jacobian()`` finds (jac_NAME) and, for the Hessian, that function's Jacobian
    (jac_jac_NAME); both are column-major and put back in symnet's layout here."""
    from helpers import require_module, require_tool
    gcc = require_tool("gcc")
    casadi = require_module("casadi")
    library = folder / f"lib{name}.so"
    result = _run([gcc, *STRICT_C, "-shared", "-fPIC", f"{name}_external.c", f"{name}_casadi.c", "-lm",
                   "-o", library], folder)
    assert result.returncode == 0, f"gcc {name}_external.c: {result.stderr[-4000:]}"
    function = casadi.external(name, str(library))
    n_in, n_out = net.n_inputs, net.n_outputs

    def at(f, x):
        return [np.array(r, dtype=float) for r in f.call([x] + [np.zeros(f.size_in(k)) for k in range(1, f.n_in())])]

    def evaluate(what, X):
        X = np.asarray(X, dtype=float)
        results = []
        for x in X:
            if what == "value":
                results.append(at(function, x)[0].reshape(n_out))
            elif what in ("jacobian", "gradient"):
                results.append(at(function.jacobian(), x)[0].reshape(shape_of(net, what)))
            else:   # rows k*n_out + i of the Jacobian of jac_y_x, column c
                hessian = at(function.jacobian().jacobian(), x)[0]
                results.append(hessian.reshape(n_in, n_out, n_in).transpose(1, 0, 2))
        return np.array(results).reshape((len(X),) + shape_of(net, what))

    def verify():
        check = _c(net, folder, f"{name}_casadi", paths)
        check.verify()
    return Built("casadi", paths, evaluate, verify)


#: target name -> runner(net, folder, name, paths) -> Built
RUNNERS = {
    "python": _python,
    "numpy": _numpy,
    "c": _c,
    "matlab": _matlab,
    "latex": _latex,
    "fmu": _fmu,
    "casadi": _casadi,
}

#: targets that write documents, not code that computes
DOCUMENTS = frozenset({"latex"})


def build(target, net, folder, derivatives=("value", "jacobian", "hessian"), name="model", **options):
    """Generate ``target``'s code for ``net`` into ``folder`` and make it runnable."""
    if target not in RUNNERS:
        raise AssertionError(f"no test runner for target {target!r}: add one to tests/runners.py")
    folder.mkdir(parents=True, exist_ok=True)
    paths = tuple(symnet.generate(net, [target], folder, derivatives=derivatives, name=name, **options))
    return RUNNERS[target](net, folder, safe_identifier(name or net.name), paths)


def variants(computing=True):
    """(target, strategy) for every registered target and each emission strategy it has;
    only targets that compute numbers when ``computing``."""
    pairs = []
    for target in symnet.emit.target_names():
        if computing and target in DOCUMENTS:
            continue
        pairs.extend((target, strategy) for strategy in symnet.emit.get_target(target).strategies)
    return tuple(pairs)


def variant_id(pair):
    return "-".join(pair)
