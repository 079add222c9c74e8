"""The generated C's element-wise loops that call the branch-free exp and tanh
(templates/c/vector_math.c.j2) or the fast activations (fast_activations.c.j2)
vectorize with plain gcc -O2 and -O3 on baseline x86-64 (SSE2 only, no -march), as
gcc's -fopt-info-vec-optimized reports them; and the 0-or-1 those helpers select by
(symnet_beyond: integer subtraction and shifts where x86 lacks 64-bit vector compares,
as without -march, so that SSE2 suffices; the comparison itself elsewhere) is C's
comparison for every kind of double and float, so the helpers' results are those of
selects by the comparisons, as before (benchmarks/helper_identity.py compares whole
helpers with an earlier revision's, bit for bit)."""

import re
import subprocess

import numpy as np
import pytest

import symnet
from symnet import Input, Layer, MapMinMax, Network, Output

from helpers import require_tool

STRICT = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
#: the helpers an element-wise loop calls
HELPER_CALL = re.compile(r"\bsymnet_(exp|tanh|tanh_slope|fast_tanh|fast_logistic)\(")


def x86_64_gcc():
    """gcc, where it is GNU gcc for x86-64 (what the reports are read from); else a skip."""
    gcc = require_tool("gcc")
    machine = subprocess.run([gcc, "-dumpmachine"], capture_output=True, text=True).stdout.strip()
    version = subprocess.run([gcc, "--version"], capture_output=True, text=True).stdout
    if not machine.startswith("x86_64") or "Free Software Foundation" not in version:
        pytest.skip(f"gcc is not GNU gcc for x86-64 ({machine}): its vectorizer's reports are what is checked")
    return gcc


def tanh_logistic_net():
    """3 inputs -> 8 tanh -> 6 logistic -> 2 linear (even widths: gcc -O2's cheapest
    vectorizer cost model vectorizes loops whose count is a multiple of the vector's)."""
    rng = np.random.default_rng(4)
    layers = [Layer(8, "tansig", rng.normal(size=8), [(0, rng.normal(size=(8, 3)))]),
              Layer(6, "logsig", rng.normal(size=6), layer_weights=[(0, rng.normal(size=(6, 8)))]),
              Layer(2, "purelin", rng.normal(size=2), layer_weights=[(1, rng.normal(size=(2, 6)))])]
    return Network([Input("x", 3, [MapMinMax(np.zeros(3), np.ones(3), 0.0)])], layers,
                   [Output("y", 2, [])], name="net")


def helper_loops(source):
    """{line of the innermost `for` around a helper's call: that call's text}, in the
    model's functions (after the helpers' definitions)."""
    lines = source.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("void model_"))
    loops = {}
    for i in range(first, len(lines)):
        if HELPER_CALL.search(lines[i]):
            loop = next(j for j in range(i, first - 1, -1) if "for (" in lines[j])
            loops[loop + 1] = lines[i].strip()
    return loops


@pytest.mark.parametrize("activations", ["exact", "fast"])
@pytest.mark.parametrize("flags", [("-O2",), ("-O3",)], ids=["O2", "O3"])
def test_element_wise_loops_vectorize_on_baseline_x86_64(activations, flags, tmp_path):
    gcc = x86_64_gcc()
    symnet.generate(tanh_logistic_net(), ["c"], tmp_path, derivatives=["value", "jvp", "vjp", "hessian"],
                    name="model", strategy="layered", activations=activations)
    loops = helper_loops((tmp_path / "model.c").read_text())
    assert len(loops) >= 12, loops   # tanh, logistic and their slopes, one point and batch, in each function
    done = subprocess.run([gcc, *STRICT, *flags, "-fopt-info-vec-optimized", "-c", "model.c", "-o", "model.o"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    vectorized = {int(line) for line in re.findall(r"model\.c:(\d+):\d+: optimized: loop vectorized", done.stderr)}
    scalar = {line: call for line, call in loops.items() if line not in vectorized}
    assert not scalar, f"loops left scalar by gcc {' '.join(flags)} (line: call): {scalar}"


BEYOND_DRIVER = """#include <stdio.h>
#include "model.c"
/* driver: for each argument in args.bin, symnet%(fast)s_beyond against each limit (a byte each) */
static const %(real)s limits[] = {%(limits)s};
int main(void)
{
    static %(real)s x[%(count)d];
    static unsigned char out[%(count)d][sizeof limits / sizeof *limits];
    FILE *file = fopen("args.bin", "rb");
    size_t i, c;
    if (fread(x, sizeof *x, %(count)d, file) != %(count)d) return 2;
    fclose(file);
    for (i = 0; i < %(count)d; ++i)
        for (c = 0; c < sizeof limits / sizeof *limits; ++c)
            out[i][c] = (unsigned char)symnet%(fast)s_beyond(x[i], limits[c]);
    file = fopen("beyond.bin", "wb");
    fwrite(out, 1, sizeof out, file);
    fclose(file);
    return 0;
}
"""

#: per (activations, precision): the C type, the numpy type, the integer type of its bits, and
#: the limits the helpers compare with (and -0, +0, the largest finite number, infinity)
BEYOND_CASES = {
    ("exact", "double"): ("double", np.float64, np.uint64, [-746.0, 710.0, 709.782712893384, -745.2]),
    ("fast", "double"): ("double", np.float64, np.uint64, [20.0, 40.0]),
    ("fast", "float"): ("float", np.float32, np.uint32, [9.5, 20.0]),
}


@pytest.mark.parametrize("activations, precision", list(BEYOND_CASES), ids=lambda value: value)
@pytest.mark.parametrize("flags", [("-O2",), ("-O3", "-march=native"), ("-O0",)], ids=["O2", "O3native", "O0"])
def test_beyond_is_the_comparison_for_every_kind_of_number(activations, precision, flags, tmp_path):
    """symnet_beyond(x, c) against numpy's x > c (c > +0) or x < c (c < -0) on every
    special number, the neighbours of each limit, and random bit patterns (NaNs too)."""
    gcc = require_tool("gcc")
    real, dtype, bits, used = BEYOND_CASES[activations, precision]
    info = np.finfo(dtype)
    limits = np.array(used + [-u for u in used] + [0.0, -0.0, float(info.max), -float(info.max), np.inf, -np.inf,
                                                   float(info.smallest_subnormal)], dtype=dtype)
    symnet.generate(tanh_logistic_net(), ["c"], tmp_path, derivatives=["value"], name="model", strategy="layered",
                    activations=activations, precision=precision)
    rng = np.random.default_rng(8)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, info.tiny, -info.tiny, info.max, -info.max,
                        info.smallest_subnormal, -info.smallest_subnormal], dtype=dtype)
    steps = np.arange(-300, 301).astype(bits)   # wrapping: the bits next to each value's, either side
    neighbours = np.concatenate([np.array(value, dtype=dtype).view(bits) + steps
                                 for value in np.r_[limits, special]]).view(dtype)
    random_bits = rng.integers(0, np.iinfo(bits).max, 200_000, dtype=bits, endpoint=True).view(dtype)
    x = np.concatenate([special, neighbours, random_bits])
    x.tofile(tmp_path / "args.bin")
    literal = "f" if real == "float" else ""
    (tmp_path / "driver.c").write_text(BEYOND_DRIVER % {
        "fast": "_fast" if activations == "fast" else "", "real": real, "count": x.size,
        "limits": ", ".join(f"{float(c).hex()}{literal}" if np.isfinite(c) else f"{'-' if c < 0 else ''}INFINITY"
                            for c in limits.astype(np.float64))})
    done = subprocess.run([gcc, *STRICT, *flags, "driver.c", "-lm", "-o", "beyond"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    subprocess.run(["./beyond"], cwd=tmp_path, check=True)
    got = np.fromfile(tmp_path / "beyond.bin", dtype=np.uint8).reshape(x.size, limits.size)
    negative = np.signbit(limits)
    with np.errstate(invalid="ignore"):
        expected = np.where(negative, x[:, None] < limits, x[:, None] > limits)
    assert np.isnan(x).sum() > 1000 and (np.isinf(x).sum() >= 2)
    mismatch = np.argwhere(got != expected)
    assert mismatch.size == 0, [(x[i].item(), limits[c].item(), got[i, c]) for i, c in mismatch[:10]]
