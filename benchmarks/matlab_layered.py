"""The MATLAB/Octave target's layered form: generation time, and GNU Octave's time for
the value and the Jacobian of a batch of points (the columns of X), against the
layered NumPy module on the same points in the same run.

    python benchmarks/matlab_layered.py [--points 1000] [--octave octave-cli]

Prints one line per net: seconds to write the layered MATLAB files (value and
Jacobian; the self-check's 30-digit test vectors computed first and timed apart),
Octave's first call (parsing the file, reading its weights) and best of 5 later
calls per batch, NumPy's best of 5, and the ratio Octave/NumPy.  Octave's matrix
products run on whatever BLAS it was built against (reference BLAS is several
times slower than NumPy's OpenBLAS).  A measurement, not a test.
"""

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import symnet  # noqa: E402
from symnet.reference.finite_differences import sample_points  # noqa: E402
from symnet.emit import GenerationRequest  # noqa: E402
from symnet.emit.selfcheck import check_vectors  # noqa: E402

import nets  # noqa: E402

DERIVATIVES = ("value", "jacobian")

_OCTAVE = """
fid = fopen('x.bin', 'r'); X = fread(fid, [{n_inputs}, {points}], 'double'); fclose(fid);
for name = {{'model_evaluate', 'model_jacobian'}}
    f = str2func(name{{1}});
    tic; f(X); first = toc;
    best = Inf;
    for r = 1:5
        tic; f(X); best = min(best, toc);
    end
    printf('%s %.6f %.6f\\n', name{{1}}, first, best);
end
"""


def generation_seconds(net, folder):
    """(seconds for the test vectors, seconds for the files with the vectors cached)."""
    start = time.perf_counter()
    check_vectors(GenerationRequest(net, "model", (), (), derivatives=DERIVATIVES))
    vectors = time.perf_counter() - start
    start = time.perf_counter()
    symnet.generate(net, ["matlab"], folder, derivatives=DERIVATIVES, name="model", strategy="layered")
    return vectors, time.perf_counter() - start


def octave_seconds(octave, folder, X):
    """{function: (first call, best later call)} in seconds."""
    np.ascontiguousarray(X, dtype="<f8").tofile(folder / "x.bin")
    (folder / "timing.m").write_text(_OCTAVE.format(n_inputs=X.shape[1], points=len(X)))
    done = subprocess.run([octave, "--no-gui", "--norc", "--quiet", "timing.m"], cwd=folder, capture_output=True,
                          text=True, timeout=1800)
    found = re.findall(r"^(model_\w+) ([\d.]+) ([\d.]+)$", done.stdout, re.M)
    if not found:
        raise RuntimeError(done.stdout + done.stderr)
    return {name: (float(first), float(best)) for name, first, best in found}


def numpy_seconds(net, folder, X):
    symnet.generate(net, ["numpy"], folder, derivatives=DERIVATIVES, name="model", strategy="layered")
    spec = importlib.util.spec_from_file_location("model_numpy", folder / "model_numpy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    times = {}
    for function in ("evaluate", "jacobian"):
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            getattr(module, function)(X)
            best = min(best, time.perf_counter() - start)
        times[f"model_{function}"] = best
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--octave", default="octave-cli")
    parser.add_argument("--net", action="append", choices=list(nets.SIZES))
    args = parser.parse_args()
    for label in args.net or list(nets.SIZES):
        net = nets.mlp(label)
        X = sample_points(net, args.points, seed=0)
        with tempfile.TemporaryDirectory() as directory:
            folder = Path(directory)
            vectors, files = generation_seconds(net, folder / "matlab")
            octave = octave_seconds(args.octave, folder / "matlab", X)
            numpy_times = numpy_seconds(net, folder / "numpy", X)
        parts = [f"{label} ({net.parameter_count} parameters): generate {files:.2f} s (+ {vectors:.2f} s test vectors)"]
        for name, (first, best) in octave.items():
            parts.append(f"{name.split('_')[1]} x{args.points}: Octave first {first:.3f} s, then {best:.4f} s, "
                         f"NumPy {numpy_times[name]:.4f} s, Octave/NumPy {best / numpy_times[name]:.1f}")
        print("; ".join(parts), flush=True)


if __name__ == "__main__":
    main()
