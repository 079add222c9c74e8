"""Run MATLAB code in GNU Octave on many points, many jobs in one Octave process.

Inputs go to Octave as raw little-endian doubles (exact), one file per input,
samples as columns; each job's code computes ``y1``, ``y2``, ... (samples as
columns) from ``x1``, ``x2``, ... and the outputs come back the same way.
Finite differences for a Jacobian are planned here too, so that Octave's own
outputs can be differentiated numerically without a process per point.
"""

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from symnet.reference.finite_differences import central_jacobian


@dataclass
class OctaveJob:
    directory: Path             # Octave works there (the function files it calls)
    inputs: list                # arrays of shape (n_samples, size of input k)
    code: str                   # computes y1..yn from x1..xm, samples as columns
    n_outputs: int
    search_path: list = field(default_factory=list)


def _quoted(path):
    return "'" + str(path).replace("'", "''") + "'"


def _job_script(index, job, workdir):
    n_samples = len(job.inputs[0]) if job.inputs else 0
    lines = ["try", f"  cd({_quoted(job.directory)});"]
    lines += [f"  addpath({_quoted(p)});" for p in job.search_path]
    for k, values in enumerate(job.inputs, start=1):
        path = workdir / f"job{index}_x{k}.bin"
        np.ascontiguousarray(values, dtype="<f8").tofile(path)
        lines.append(f"  x{k} = read_doubles({_quoted(path)}, {values.shape[1]}, {n_samples});")
    lines += ["  " + line for line in job.code.splitlines()]
    for k in range(1, job.n_outputs + 1):
        lines.append(f"  write_doubles({_quoted(workdir / f'job{index}_y{k}.bin')}, y{k});")
    lines += ["catch failure", f"  fprintf(2, 'job {index}: %s\\n', failure.message);", "end"]
    return lines


_FUNCTIONS = """
function x = read_doubles(path, rows, columns)
  fid = fopen(path, 'r');
  x = fread(fid, [rows, columns], 'double', 0, 'ieee-le');
  fclose(fid);
end
function write_doubles(path, y)
  fid = fopen(path, 'w');
  fwrite(fid, y, 'double', 0, 'ieee-le');
  fclose(fid);
end
"""


def run_octave(octave, jobs, workdir, timeout=900):
    """Outputs of every job: a list of arrays (n_samples, size of output k), or the error text."""
    workdir = Path(workdir)
    script = ["1;", _FUNCTIONS]
    for index, job in enumerate(jobs):
        script += _job_script(index, job, workdir)
    driver = workdir / "driver.m"
    driver.write_text("\n".join(script) + "\n")
    run = subprocess.run([octave, "--no-gui", "--norc", "--quiet", str(driver)], capture_output=True,
                         text=True, timeout=timeout, cwd=workdir)
    results = []
    for index, job in enumerate(jobs):
        paths = [workdir / f"job{index}_y{k}.bin" for k in range(1, job.n_outputs + 1)]
        if not all(p.exists() for p in paths):
            failures = [line for line in run.stderr.splitlines() if line.startswith(f"job {index}:")]
            results.append("; ".join(failures) or f"no output (octave exit {run.returncode}): {run.stderr[-2000:]}")
            continue
        n_samples = len(job.inputs[0]) if job.inputs else 0
        results.append([np.fromfile(p, dtype="<f8").reshape(n_samples, -1) for p in paths])
    return results


class FiniteDifferencePlan:
    """The points a Richardson central-difference Jacobian needs, and the Jacobian from their values."""

    def __init__(self, X, steps):
        self.X, self.steps, self.batches = X, steps, []
        central_jacobian(self._record, X, steps)
        self.points = np.concatenate([X] + self.batches)

    def _record(self, points):
        self.batches.append(points.copy())
        return np.zeros((len(points), 1))

    def split(self, values):
        """(values at X, Jacobian (n_samples, n_outputs, n_inputs)) from values at ``self.points``."""
        at_x, rest = values[:len(self.X)], values[len(self.X):]
        chunks, start = [], 0
        for batch in self.batches:
            chunks.append(rest[start:start + len(batch)])
            start += len(batch)
        replay = iter(chunks)
        return at_x, central_jacobian(lambda _: next(replay), self.X, self.steps)
