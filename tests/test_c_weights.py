"""The C target's numbers: every literal exact and in its shortest form (read back by
Python and by gcc, bit for bit), every weight stored once in a big network's layered
code (single-point and batch results still bit-identical, and deterministic), and
float precision refusing a finite value no float holds."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import symnet
from symnet.cli import main
from symnet.emit.c import layered as c_layered
from symnet.emit.c.literals import array_literal, c_literals, hex_literal
from symnet.errors import UnsupportedError
from symnet.importers.json_format import save_json
from symnet.ir import Input, Layer, MapMinMax, Network, Output
from symnet.reference.fixed_point import exact_products, limb_products, weight_parts, weight_rows

from helpers import require_tool
from test_layered import assert_close, mlp
from test_layered_c import STRICT, compile_and_run

from conftest import REPO


def awkward_doubles(count=4000, seed=0):
    """Doubles across the whole range: normal and subnormal, few and many significant
    bits, both signs and zeros, the extremes."""
    rng = np.random.default_rng(seed)
    normal = rng.normal(size=count) * 10.0 ** rng.integers(-300, 300, count)
    dyadic = np.ldexp(rng.integers(-2**12, 2**12, count).astype(float), rng.integers(-1074, 1000, count))
    edges = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1.0, 2**-20,
             65536.0, 1e16, 1 / 3]
    return np.concatenate([normal, dyadic, edges])


def bits(values, dtype):
    return np.asarray(values, dtype=dtype).view(np.uint64 if dtype == np.float64 else np.uint32)


def test_double_literals_read_back_bit_for_bit_and_are_the_shortest():
    values = awkward_doubles()
    texts = c_literals(values)
    back = [float.fromhex(t) if "0x" in t else float(t) for t in texts]
    np.testing.assert_array_equal(bits(back, np.float64), bits(values, np.float64))
    for value, text in zip(values.tolist(), texts):
        assert len(text) <= len(repr(value))
        if value:
            assert len(text) <= len(hex_literal(value))
    assert sum("0x" in t for t in texts) > 100   # hexadecimal where it is shorter


def test_float_literals_read_back_as_the_same_float32_and_are_the_shortest():
    values = awkward_doubles()
    values = values[np.abs(values) <= np.finfo(np.float32).max].astype(np.float32)
    texts = c_literals(values, "float")
    assert all(t.endswith("f") for t in texts)
    back = np.array([float.fromhex(t[:-1]) if "0x" in t else float(t[:-1]) for t in texts])
    np.testing.assert_array_equal(bits(back.astype(np.float32), np.float32), bits(values, np.float32))
    for value, text in zip(values, texts):
        assert len(text) - 1 <= len(str(value))


def test_literal_forms():
    assert c_literals([0.1, 1.0, 2**-20, -2**-1074, 1e16, -0.0, 3.0]) == [
        "0.1", "1.0", "0x1p-20", "-5e-324", "1e+16", "-0.0", "3.0"]
    assert c_literals([0.1, 65536.0, 2.0**-149, 1 / 3], "float") == ["0.1f", "0x1p16f", "1e-45f", "0.33333334f"]
    assert hex_literal(1.5) == "0x1.8p0" and hex_literal(5e-324) == "0x1p-1074"
    assert array_literal(np.array([[0.5, 2**-30], [1.0, -2.0]])) == "{\n{0.5,0x1p-30},\n{1.0,-2.0}\n}"


C_BITS = """#include <stdio.h>
#include <string.h>
#include <stdint.h>
static const {real} v[{n}] = {values};
int main(void)
{{
    for (size_t i = 0; i < {n}; ++i) {{
        {bits} u;
        memcpy(&u, &v[i], sizeof u);
        printf("%llu\\n", (unsigned long long)u);
    }}
    return 0;
}}
"""


@pytest.mark.parametrize("precision", ["double", "float"])
def test_gcc_reads_every_literal_as_the_same_bits(precision, tmp_path):
    gcc = require_tool("gcc")
    values = awkward_doubles(1000)
    if precision == "float":
        values = values[np.abs(values) <= np.finfo(np.float32).max].astype(np.float32).astype(float)
    real, bits_type, dtype = (("double", "uint64_t", np.float64) if precision == "double"
                              else ("float", "uint32_t", np.float32))
    source = C_BITS.format(real=real, n=len(values), values=array_literal(values, precision), bits=bits_type)
    (tmp_path / "bits.c").write_text(source)
    flags = [*STRICT, "-Wconversion"] if precision == "float" else list(STRICT)
    done = subprocess.run([gcc, *flags, "bits.c", "-o", "bits"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = subprocess.run(["./bits"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    np.testing.assert_array_equal(np.array(printed.split(), dtype=np.uint64), bits(values.astype(dtype), dtype))


# --- one copy of each weight -------------------------------------------------------------

def declared_arrays(source):
    return re.findall(r"^static const double (\w+)\[", source, flags=re.MULTILINE)


@pytest.mark.parametrize("sizes", [(5, 40, 33, 2), (2, 9, 10, 3)])
def test_one_copy_of_each_weight_keeps_single_point_and_batch_identical(sizes, tmp_path, monkeypatch):
    """Above ONE_COPY_FROM parameters (lowered here) no transposed copy is written; the
    single-point products that would read one sum unit by unit, in the order the batch
    kernel does: reverse (5-40-33-2) and forward (2-9-10-3) Jacobians and the Hessians."""
    monkeypatch.setattr(c_layered, "ONE_COPY_FROM", 0)
    net = mlp(sizes)
    X = np.random.default_rng(1).uniform(-1, 1, (19, sizes[0]))
    results = compile_and_run(net, tmp_path, X, ["-O3", "-march=native"])
    source = (tmp_path / "model.c").read_text()
    arrays = declared_arrays(source)
    assert len(arrays) == len(set(arrays)) and not [a for a in arrays if a.endswith("_T")]
    assert "Each weight is stored once." in source
    for what, (single, batch) in results.items():
        np.testing.assert_array_equal(batch, single)
        assert_close(single, symnet.derive(net, what)(X))


def test_small_networks_keep_their_transposed_copies(tmp_path):
    symnet.generate(mlp((5, 40, 33, 2)), ["c"], tmp_path, derivatives=["jacobian"], name="model",
                    strategy="layered")
    assert any(a.endswith("_T") for a in declared_arrays((tmp_path / "model.c").read_text()))


GENERATE = """
import sys
sys.path.insert(0, {tests!r})
import symnet
from symnet.emit.c import layered as c_layered
from test_layered import mlp
c_layered.ONE_COPY_FROM = 0
symnet.generate(mlp((3, 20, 20, 2)), ["c"], sys.argv[1], derivatives=("value", "jacobian", "hessian"),
                name="model", strategy="layered")
"""


def test_one_copy_code_is_byte_identical_across_processes(tmp_path):
    script = GENERATE.format(tests=str(REPO / "tests"))
    outputs = []
    for seed in ("1", "2"):
        folder = tmp_path / seed
        environment = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        subprocess.run([sys.executable, "-c", script, str(folder)], env=environment, check=True, timeout=300)
        outputs.append({p.name: p.read_bytes() for p in sorted(folder.iterdir())})
    assert outputs[0] == outputs[1] and "model.c" in outputs[0]


# --- float precision: values beyond a float ------------------------------------------------

def small_net(weight=0.75, bias=0.5, gain=2.0):
    layers = [Layer(3, "tansig", [0.1, bias, -0.2], [(0, [[1.0, -0.5], [0.3, 0.2], [-1.0, 0.7]])]),
              Layer(1, "purelin", [0.2], layer_weights=[(0, [[0.5, -0.25, weight]])])]
    return Network([Input("x", 2, [MapMinMax([-1.0, -1.0], [1.0, 1.0], -1.0)])], layers,
                   [Output("y", 1, [MapMinMax([0.0], [gain], -1.0)])], name="small")


@pytest.mark.parametrize("where", ["weight", "bias"])
def test_float_refuses_a_finite_value_beyond_the_float_range(where, tmp_path, capsys):
    net = small_net(weight=1e39) if where == "weight" else small_net(bias=-1e39)
    path = tmp_path / "net.json"
    save_json(net, path)
    out = tmp_path / "out"
    code = main(["generate", str(path), "--target", "python", "--target", "c", "--precision", "float",
                 "--strategy", "layered", "--out", str(out)])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "Traceback" not in error
    expected = "layer 2: weights LW2_1[0][2] = 1e+39" if where == "weight" else "layer 1: bias[1] = -1e+39"
    assert expected in error and "does not fit a float" in error
    assert not out.exists()   # the Python files, rendered first, are not written either
    with pytest.raises(UnsupportedError):
        symnet.generate(net, ["c"], out, precision="float", strategy="unrolled")
    symnet.generate(net, ["c"], out, precision="double", strategy="layered")   # a double holds it


def test_float_refuses_a_folded_constant_beyond_the_float_range(tmp_path):
    """The weights fit a float, but folded with the output normalization's gain they do not."""
    net = small_net(weight=3e38, gain=1e-3)
    with pytest.raises(UnsupportedError, match="does not fit a float"):
        symnet.generate(net, ["c"], tmp_path, precision="float", strategy="layered")
    assert not list(tmp_path.iterdir())


# --- the 30-digit reference's products -----------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_limb_products_equal_the_packed_integer_products(seed):
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(7, 9)) * 10.0 ** rng.integers(-30, 30, size=(7, 9))
    weights[2] = 0.0
    weights[3, 4], weights[4, 1] = 5e-324, -0.0
    layer = Layer(7, "purelin", rng.normal(size=7), [(0, weights)])
    columns = [[int(v) << int(s) for v, s in zip(rng.integers(-2**60, 2**60, 5), rng.integers(0, 120, 5))]
               for _ in range(10)]
    columns[3] = [0] * 5
    mantissas, shifts, _, weight_bits = weight_parts(layer)
    expected = exact_products(weight_rows(layer)[0], columns)
    assert limb_products(mantissas, shifts, weight_bits, columns).tolist() == expected
