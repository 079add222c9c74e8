"""Bit-for-bit comparison of the generated C's element-wise helpers at a git revision
with the working tree's: the exact exp, tanh and tanh's slope (templates/c/vector_math.c.j2)
and the fast tanh and logistic (templates/c/fast_activations.c.j2, double and float), for
a change meant to alter how they compile, not what they compute.

    python benchmarks/helper_identity.py [--against main] [--rounds 1000]

Each round is 4096 arguments of one kind, in turn: any bit pattern (NaNs and infinities
included), uniform on +-800 (+-100 for the fast ones), uniform on +-30 (+-5), and the
1000 numbers either side of an edge value (the helpers' limits, +-0, +-inf, NaN, the
smallest subnormal and normal, the largest finite number).  Both versions are compiled
into one program (gcc -std=c99 -Wall -Wextra -Werror -pedantic and each flag set below),
run on the same arguments, and every result compared.  Printed per helper set and flag
set: the results that differ, and apart from them the NaN results that differ only in
sign or payload (C leaves those to the compiler's choice of operand order: one version's
NaN bits already differ between -O0, -O2 and -O3 -march=native).
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import jinja2

REPO = Path(__file__).resolve().parent.parent
FLAG_SETS = (("-O0",), ("-O2",), ("-O3",), ("-O2", "-march=native", "-mno-fma"), ("-O3", "-march=native"))

HARNESS = r"""#include <stdint.h>
#include <string.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#define SYMNET_INLINE static inline __attribute__((always_inline))
#if defined(%(fast_fma)s)
#define SYMNET_MADD(a, b, c) %(fma)s(a, b, c)
#else
#define SYMNET_MADD(a, b, c) ((a) * (b) + (c))
#endif
#include "old.h"
#include "new.h"
#define N 4096
#define F %(functions)d
typedef %(real)s real;
typedef %(bits)s bits_t;
static uint64_t state = 88172645463325252u;
static uint64_t next(void) { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state; }
static real from(bits_t u) { real d; memcpy(&d, &u, sizeof d); return d; }
static bits_t to(real d) { bits_t u; memcpy(&u, &d, sizeof u); return u; }
static real x[N], a[F][N], b[F][N];
static void run_old(void) { int i; for (i = 0; i < N; ++i) { %(old_calls)s } }
static void run_new(void) { int i; for (i = 0; i < N; ++i) { %(new_calls)s } }
int main(int argc, char **argv)
{
    static const real edge[] = {%(edges)s, 0.0, -0.0, INFINITY, -INFINITY, NAN, -NAN, 1.0, -1.0};
    const int n_edge = (int)(sizeof edge / sizeof *edge);
    long rounds = argc > 1 ? atol(argv[1]) : 1, r, differ = 0, nan_bits = 0, total = 0;
    int i, f;
    for (r = 0; r < rounds; ++r) {
        for (i = 0; i < N; ++i) {
            const uint64_t u = next();
            const double unit = (double)(u >> 11) / 9007199254740992.0 - 0.5;
            switch (r %% 4) {
            case 0: x[i] = from((bits_t)u); break;
            case 1: x[i] = (real)(unit * %(wide)s); break;
            case 2: x[i] = (real)(unit * %(narrow)s); break;
            default: x[i] = from(to(edge[u %% (uint64_t)n_edge]) + (bits_t)((int64_t)((u >> 8) %% 2001) - 1000));
            }
        }
        if (r == 0) for (i = 0; i < n_edge; ++i) x[i] = edge[i];
        run_old();
        run_new();
        for (f = 0; f < F; ++f)
            for (i = 0; i < N; ++i) {
                ++total;
                if (to(a[f][i]) == to(b[f][i])) continue;
                if (a[f][i] != a[f][i] && b[f][i] != b[f][i]) { ++nan_bits; continue; }
                if (differ++ < 5) printf("  helper %%d, x = %%a: %%a before, %%a now\n", f, (double)x[i], (double)a[f][i], (double)b[f][i]);
            }
    }
    printf("%%ld of %%ld results differ; %%ld NaN results differ in sign or payload only\n", differ, total, nan_bits);
    return differ != 0;
}
"""

#: per helper set: template, precision, the functions, the edges besides the common ones, the ranges
SETS = {
    "exact double": ("vector_math.c.j2", "double", ("exp", "tanh", "tanh_slope"),
                     "709.782712893384, 710.0, -746.0, -745.2, 373.0, -373.0, 372.6, -372.6, 5e-324, "
                     "2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308", "1600.0", "60.0"),
    "fast double": ("fast_activations.c.j2", "double", ("fast_tanh", "fast_logistic"),
                    "20.0, -20.0, 40.0, -40.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308", "200.0", "10.0"),
    "fast float": ("fast_activations.c.j2", "float", ("fast_tanh", "fast_logistic"),
                   "9.5f, -9.5f, 20.0f, -20.0f, 1e-45f, 1.17549435e-38f, 3.40282347e38f", "200.0", "10.0"),
}


def git_show(revision, path):
    return subprocess.run(["git", "show", f"{revision}:{path}"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout


def fast_numbers(source):
    """FAST_MATH of a version of symnet/emit/c/fast_activations.py."""
    namespace = {}
    exec(compile(source, "fast_activations.py", "exec"), namespace)
    return namespace["FAST_MATH"]


def helpers(read, name, real, numbers, prefix):
    """The C text of templates/c/``name`` (and of the templates it imports) as ``read(path)``
    gives them, its C-library branch switched off, its names prefixed ``prefix``."""
    loader = jinja2.FunctionLoader(lambda template: read(f"templates/{template}"))
    environment = jinja2.Environment(loader=loader, trim_blocks=True, lstrip_blocks=True,
                                     undefined=jinja2.StrictUndefined)
    text = environment.get_template(f"c/{name}").render(real=real, fast=numbers.get(real))
    text = re.sub(r"^#if defined\(.*$", "#if 0", text, count=1, flags=re.MULTILINE)
    return text.replace("symnet_", prefix)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="main", help="the git revision compared with (default main)")
    parser.add_argument("--rounds", type=int, default=1000, help="rounds of 4096 arguments (default 1000)")
    args = parser.parse_args()
    old_numbers = fast_numbers(git_show(args.against, "symnet/emit/c/fast_activations.py"))
    new_numbers = fast_numbers((REPO / "symnet/emit/c/fast_activations.py").read_text())
    failed = False
    for label, (name, real, functions, edges, wide, narrow) in SETS.items():
        old = helpers(lambda path: git_show(args.against, path), name, real, old_numbers, "old_")
        new = helpers(lambda path: (REPO / path).read_text(), name, real, new_numbers, "symnet_")
        suffix = "f" if real == "float" else ""
        calls = {prefix: " ".join(f"{array}[{f}][i] = {prefix}{function}(x[i]);"
                                  for f, function in enumerate(functions))
                 for prefix, array in (("old_", "a"), ("symnet_", "b"))}
        source = HARNESS % {
            "fast_fma": f"FP_FAST_FMA{suffix.upper()}", "fma": f"fma{suffix}", "functions": len(functions),
            "real": real, "bits": "uint32_t" if real == "float" else "uint64_t", "old_calls": calls["old_"],
            "new_calls": calls["symnet_"], "edges": edges, "wide": wide, "narrow": narrow}
        with tempfile.TemporaryDirectory() as folder:
            build = Path(folder)
            (build / "old.h").write_text(old)
            (build / "new.h").write_text(new)
            (build / "harness.c").write_text(source)
            for flags in FLAG_SETS:
                subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", *flags, "harness.c",
                                "-lm", "-o", "harness"], cwd=build, check=True)
                done = subprocess.run(["./harness", str(args.rounds)], cwd=build, capture_output=True, text=True)
                failed |= done.returncode != 0
                print(f"{label} ({' '.join(flags)}, {args.against} vs working tree): {done.stdout.strip()}",
                      flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
