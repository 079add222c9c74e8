"""Accuracy of the generated C code in double and in float precision, measured the
way the shipped self-checks measure it, on random networks (depths 1-4, kinks,
softmax, several inputs and outputs, cascade links).

For every network and derivative it prints nothing; at the end, per precision and
derivative, the worst and the median of

  self-check error: |C - reference| / entry scale, the reference computed at 30
                    digits (symnet.reference.high_precision), the scale as in the self-check;
  compare error:    symnet.reference.finite_differences.compare(C, reference), the bound the tests use.

The self-check tolerances in symnet/emit/selfcheck.py and the float bound in the
tests and docs/targets.md (Self-check) come from these numbers.

Run:  python benchmarks/selfcheck_accuracy.py [first_seed] [last_seed]   (default 0 40)
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import symnet  # noqa: E402
from helpers import random_network  # noqa: E402
from symnet.reference.finite_differences import compare  # noqa: E402
from symnet.emit.selfcheck import entry_scale  # noqa: E402
from symnet.reference.high_precision import reference_values  # noqa: E402

WHAT = ("value", "jacobian", "hessian")
FUNCTIONS = {"value": "evaluate", "jacobian": "jacobian", "hessian": "hessian"}
DRIVER = """#include <stdio.h>
#include "m.h"
int main(void)
{{
    static {real} x[{count} * M_N_INPUTS];
    static {real} out[{count} * M_N_OUTPUTS * M_N_INPUTS * M_N_INPUTS];
    int i;
    double v;
    for (i = 0; i < {count} * M_N_INPUTS; ++i) {{
        if (scanf("%lf", &v) != 1) return 2;
        x[i] = ({real})v;
    }}
{calls}    return 0;
}}
"""
CALL = "    m_{function}_batch({count}, x, out);\n" \
       "    for (i = 0; i < {size}; ++i) printf(\"%.17g\\n\", (double)out[i]);\n"


def c_results(net, X, precision, folder):
    symnet.generate(net, ["c"], folder, derivatives=WHAT, name="m", precision=precision)
    sizes = {"value": net.n_outputs, "jacobian": net.n_outputs * net.n_inputs,
             "hessian": net.n_outputs * net.n_inputs ** 2}
    calls = "".join(CALL.format(function=FUNCTIONS[w], count=len(X), size=len(X) * sizes[w]) for w in WHAT)
    (folder / "driver.c").write_text(DRIVER.format(real=precision, count=len(X), calls=calls))
    subprocess.run(["gcc", "-std=c99", "-O2", "driver.c", "m.c", "-lm", "-o", "driver"], cwd=folder, check=True)
    text = " ".join(repr(float(v)) for v in X.reshape(-1))
    output = subprocess.run(["./driver"], cwd=folder, input=text, capture_output=True, text=True, check=True)
    values = np.array([float(v) for v in output.stdout.split()])
    results, start = {}, 0
    for what in WHAT:
        count = len(X) * sizes[what]
        results[what] = values[start:start + count]
        start += count
    return results


def main(first=0, last=40):
    errors = {}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(first, last):
            net = random_network(seed)
            X = symnet.reference.finite_differences.sample_points(net, 5, seed=0)
            for precision in ("double", "float"):
                points = X.astype(np.float32).astype(float) if precision == "float" else X
                folder = Path(scratch) / f"{seed}_{precision}"
                results = c_results(net, points, precision, folder)
                for what in WHAT:
                    reference = reference_values(net, what, points)
                    got = results[what].reshape(reference.shape)
                    scaled = float(np.max(np.abs(got - reference) / entry_scale(what, reference)))
                    errors.setdefault((precision, what), []).append(
                        (scaled, compare(got, reference).max_rel_error, seed))
    print(f"{'precision':9} {'derivative':10} {'self-check worst (seed)':>24} {'median':>9} {'compare worst':>14}")
    for (precision, what), rows in sorted(errors.items()):
        rows.sort()
        worst, _, seed = rows[-1]
        print(f"{precision:9} {what:10} {worst:17.2e} ({seed:3d}) {rows[len(rows) // 2][0]:9.2e}"
              f" {max(r[1] for r in rows):14.2e}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
