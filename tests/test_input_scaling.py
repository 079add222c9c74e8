"""Reading a model takes time and memory in proportion to the file: no quadratic or
exponential step, no decompression past the size limits.  No timing assertions: each test
checks the algorithmic property (work counted, or a size that took minutes before the
change finishing within a generous subprocess timeout)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy.io import loadmat, savemat

import symnet
from helpers import require_module
from conftest import REPO
from hostile_inputs import chain_model, clip, node, write_mat_bomb
from symnet.errors import ModelFormatError, SizeLimitError
from symnet.importers import mat_reader, mat_sizes
from test_fuzz_importers import EXAMPLE, mat_struct

# --- JSON ----------------------------------------------------------------------------------


def run_python(code, timeout):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'tests'}"))


def test_a_json_object_of_200k_keys_parses_in_linear_time():
    # the duplicate-key check counted each key in the whole list: 100k keys took 203 s, 200k four times that
    result = run_python("""
        from hostile_inputs import json_object_text
        from symnet.importers.json_format import parse
        assert len(parse(json_object_text(200_000))) == 200_000
        """, timeout=120)
    assert result.returncode == 0, result.stderr


def test_a_repeated_key_among_many_is_still_named():
    from symnet.importers.json_format import parse
    text = '{"b": 1, "a": 2, "c": 3, "b": 4, "a": 5}'
    with pytest.raises(ModelFormatError, match="the key 'a' appears twice in one object"):
        parse(text)


# --- MAT-files -----------------------------------------------------------------------------

def _declared_values(array):
    """The values a loaded variable holds, counted the way MAT-file headers declare them."""
    if array.dtype.names:
        return array.size * (1 + len(array.dtype.names)) + sum(
            _declared_values(array[index][field]) for index in np.ndindex(array.shape) for field in array.dtype.names)
    if array.dtype == object:
        return array.size + sum(_declared_values(item) for item in array.flat)
    if array.dtype.kind == "U":
        return sum(len(text) for text in array.flat)
    return array.size


@pytest.mark.parametrize("compressed", [False, True])
def test_the_header_walk_reads_a_valid_file_to_its_end(tmp_path, compressed):
    path = tmp_path / "net.mat"
    savemat(path, {"before": np.zeros((3, 4)), "symnet_network": mat_struct(symnet.load(EXAMPLE)),
                   "after": "text"}, do_compression=compressed)
    expected = _declared_values(loadmat(path, struct_as_record=True)["symnet_network"])
    assert mat_sizes.check_variable_size(path, "symnet_network") == expected
    assert mat_sizes.check_variable_size(path, "missing") is None
    assert symnet.load(path).n_inputs == 3


def test_a_compressed_array_over_the_limit_is_refused_before_it_is_inflated(tmp_path, monkeypatch):
    rows = mat_sizes.MAX_VALUES // 4096 + 1
    path = tmp_path / "bomb.mat"
    write_mat_bomb(path, rows, 4096)   # 16 kB on disk, 128 MiB as doubles
    started = []
    monkeypatch.setattr(mat_reader.subprocess, "run", lambda *a, **k: started.append(a))
    with pytest.raises(SizeLimitError, match=f"bomb.mat: .*symnet_network.IW, {rows}x4096"):
        symnet.load(path)
    assert started == [], "scipy's reader was started on a file over the size limit"


def test_an_array_just_under_the_limit_is_read(tmp_path):
    path = tmp_path / "big.mat"
    write_mat_bomb(path, 300, 400)
    assert mat_sizes.check_variable_size(path, "symnet_network") == 300 * 400 + 2
    assert loadmat(path, struct_as_record=False)["symnet_network"][0, 0].IW.shape == (300, 400)


def test_data_larger_than_the_limit_is_refused_at_its_tag(tmp_path, monkeypatch):
    monkeypatch.setattr(mat_sizes, "MAX_DATA_BYTES", 1000)
    path = tmp_path / "data.mat"
    write_mat_bomb(path, 40, 40)
    with pytest.raises(SizeLimitError, match="more than 1,000 bytes of data .at symnet_network.IW"):
        mat_sizes.check_variable_size(path, "symnet_network")


# --- ONNX and torch element-wise chains ----------------------------------------------------

def matches_onnxruntime(net, model, points=50):
    ort = require_module("onnxruntime")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    X = np.random.default_rng(1).normal(scale=2.0, size=(points, 3))
    expected = session.run(None, {"x": X.astype(np.float32)})[0].astype(float)
    # the graph computes in float32, symnet in double: agree to float32's precision
    return np.max(np.abs(net.evaluate(X) - expected)) <= 1e-5 * max(1.0, np.max(np.abs(expected)))


def test_consecutive_relus_are_one_relu():
    require_module("onnx")
    model = chain_model([node("Relu"), node("Relu")])
    net = symnet.load(model)
    assert [layer.transfer for layer in net.layers] == ["poslin", "purelin"]
    assert matches_onnxruntime(net, model)


def test_consecutive_torch_relus_are_one_relu():
    torch = require_module("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    net = symnet.load(module.double())
    assert [layer.transfer for layer in net.layers] == ["poslin", "purelin"]
    X = np.random.default_rng(2).normal(size=(20, 3))
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    assert np.allclose(net.evaluate(X), expected, rtol=1e-13, atol=1e-13)


def test_a_chain_of_piecewise_operators_composes_exactly():
    """Every kind of kink after every other, 10 rounds: before, each one doubled the expression
    (and a piecewise function of a piecewise one was refused, 'ITE' in the message)."""
    require_module("onnx")
    kinds = [node("Relu"), clip, node("Abs"), node("LeakyRelu", alpha=0.2),
             node("Neg"), node("HardSigmoid", alpha=0.3, beta=0.4), node("Tanh")]
    model = chain_model(kinds * 10)
    net = symnet.load(model)
    assert matches_onnxruntime(net, model)


LONG_CHAINS = """
    import numpy as np
    import symnet
    from onnx import helper
    from hostile_inputs import chain_model, node
    # 3000 ReLUs: one ReLU (before: the expression doubled with each, 30 took a minute)
    net = symnet.load(chain_model([node("Relu")] * 3000))
    assert [layer.transfer for layer in net.layers] == ["poslin", "purelin"]
    # 3000 tanh: several layers of composed tanh (before: a RecursionError, an internal error)
    net = symnet.load(chain_model([node("Tanh")] * 3000, n_inputs=1, n_units=1))
    x = np.linspace(-2, 2, 9)[:, None]
    h = x * net.layers[0].input_weights[0][1][0, 0] + net.layers[0].bias[0]
    for _ in range(3000):
        h = np.tanh(h)
    expected = h * net.layers[-1].layer_weights[0][1][0, 0] + net.layers[-1].bias[0]
    assert np.allclose(net.evaluate(x), expected, rtol=1e-12, atol=1e-12)
    assert 3000 // 40 < len(net.layers) < 3000
    print("ok")
    """


def test_chains_of_thousands_of_operations_load_in_linear_time():
    require_module("onnx")
    result = run_python(LONG_CHAINS, timeout=300)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]


def test_composition_folds_piecewise_branches_and_stops_at_its_limits():
    import sympy as sp
    from symnet.ir.expression_text import MAX_COMPOSED_DEPTH, SYMBOL, composed
    from symnet.ir import transfer
    relu = transfer.lookup("poslin").reference_expression
    assert composed(relu, relu(SYMBOL)) == relu(SYMBOL)
    assert not composed(relu, relu(SYMBOL)).has(sp.ITE)
    deep = SYMBOL
    for _ in range(MAX_COMPOSED_DEPTH - 2):
        deep = composed(sp.tanh, deep)
    assert deep is not None and composed(sp.tanh, composed(sp.tanh, deep)) is None
