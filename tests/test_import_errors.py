"""What the Python-ecosystem importers refuse, and how: one line naming the
construct (operator, node, module), exit code 2 on the command line; and the
missing-extra message that names the extra to install."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

import symnet
from helpers import require_module
from symnet.cli import main
from symnet.errors import MissingExtraError

onnx = require_module("onnx")
torch = require_module("torch")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from torch import nn  # noqa: E402

W = np.arange(12, dtype=np.float32).reshape(4, 3) / 10


def onnx_file(tmp_path, nodes, initializers=None, opset=17, input_shape=("batch", 3), name="model"):
    initializers = {"W": W, "B": np.zeros(4, np.float32), **(initializers or {})}
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def gemm(output="h", source="x"):
    return helper.make_node("Gemm", [source, "W", "B"], [output], transB=1, name=f"gemm_{output}")


ONNX_REFUSALS = {
    "convolution": ([helper.make_node("Conv", ["x", "W"], ["y"], name="conv1")], {},
                    "'conv1' \\(Conv\\): operator Conv \\(convolution\\)"),
    "recurrence": ([helper.make_node("LSTM", ["x", "W", "W"], ["y"], hidden_size=4, name="rnn")], {},
                   "operator LSTM \\(recurrence\\)"),
    "control_flow": ([helper.make_node("If", ["x"], ["y"], name="branch")], {}, "operator If \\(control flow\\)"),
    "unknown_op": ([gemm(), helper.make_node("TopK", ["h", "k"], ["y"], name="top")],
                   {"k": np.array([1], np.int64)}, "'top' \\(TopK\\): operator TopK is not supported"),
    "product_of_layers": ([gemm("a"), gemm("b"), helper.make_node("Tanh", ["b"], ["t"]),
                           helper.make_node("Mul", ["a", "c"], ["ac"]),
                           helper.make_node("Tanh", ["ac"], ["u"]),
                           helper.make_node("Mul", ["u", "t"], ["y"], name="gate")],
                          {"c": np.float32([1, 2, 3, 4])}, "'gate' \\(Mul\\): multiplies or divides the outputs"),
    "softmax_over_batch": ([gemm(), helper.make_node("Softmax", ["h"], ["y"], axis=0, name="sm")], {},
                           "'sm' \\(Softmax\\): softmax over axis 0 is not over the features"),
    "reshape_of_features": ([gemm(), helper.make_node("Reshape", ["h", "shape"], ["y"], name="rs")],
                            {"shape": np.array([-1, 2], np.int64)}, "'rs' \\(Reshape\\): Reshape changes the feature"),
    "per_unit_between_activations": ([gemm(), helper.make_node("Tanh", ["h"], ["t"]),
                                      helper.make_node("Mul", ["t", "c"], ["m"]),
                                      helper.make_node("Sigmoid", ["m"], ["y"], name="act2")],
                                     {"c": np.float32([1, 2, 3, 4])}, "'act2' \\(Sigmoid\\): per-unit constants"),
    "transposed_data": ([helper.make_node("Gemm", ["x", "W", "B"], ["y"], transA=1, name="g")], {},
                        "'g' \\(Gemm\\): transA=1"),
}


def run_cli(path, capsys, *extra):
    code = main(["inspect", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize("case", sorted(ONNX_REFUSALS))
def test_onnx_construct_is_named_on_one_line(case, tmp_path, capsys):
    nodes, initializers, message = ONNX_REFUSALS[case]
    path = onnx_file(tmp_path, nodes, initializers)
    code, err = run_cli(path, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"symnet: error: {path}: node ")
    assert __import__("re").search(message, err), err


def test_onnx_file_problems(tmp_path, capsys):
    old = onnx_file(tmp_path, [gemm("y")], opset=8, name="old")
    assert run_cli(old, capsys) == (2, f"symnet: error: {old}: opset 8 is older than the oldest supported, 9\n")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\xffnot a protobuf" * 10)
    code, err = run_cli(garbage, capsys)
    assert code == 2 and "not a valid ONNX model" in err and err.count("\n") == 1
    external = onnx_file(tmp_path, [gemm("y")], name="external")
    model = onnx.load(str(external))
    model.graph.initializer[0].data_location = TensorProto.EXTERNAL
    onnx.external_data_helper.set_external_data(model.graph.initializer[0], location="../../etc/passwd")
    external.write_bytes(model.SerializeToString())
    code, err = run_cli(external, capsys)
    assert code == 2 and "initializer 'W': its external data location '../../etc/passwd' leaves the model's" \
        " folder" in err and err.count("\n") == 1


def test_onnx_opset_newer_than_the_onnx_package_knows(tmp_path, capsys):
    newest = onnx.defs.onnx_opset_version()
    future = onnx_file(tmp_path, [gemm("y")], opset=100000, name="future")
    code, err = run_cli(future, capsys)
    assert (code, err) == (2, f"symnet: error: {future}: opset 100000 is newer than the newest the installed"
                              f" onnx package defines, {newest} (upgrade onnx, or export with an older opset)\n")
    assert run_cli(onnx_file(tmp_path, [gemm("y")], opset=newest, name="newest"), capsys) == (0, "")


def nan_weights_module():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    with torch.no_grad():
        model[0].weight[1, 1] = float("nan")
    return model


def test_nan_in_a_weight_matrix_is_named_as_the_weights_not_the_bias(tmp_path, capsys):
    with pytest.raises(symnet.ModelFormatError, match=r"^module '0' \(Linear\): NaN or Inf in the weights$"):
        symnet.load(nan_weights_module())
    nan_gemm = onnx_file(tmp_path, [gemm("y")], {"W": np.where(W == W[1, 1], np.nan, W).astype(np.float32)})
    code, err = run_cli(nan_gemm, capsys)
    assert (code, err) == (2, f"symnet: error: {nan_gemm}: node 'gemm_y' (Gemm): NaN or Inf in the weights\n")
    nan_bias = onnx_file(tmp_path, [gemm("y")], {"B": np.float32([0, np.inf, 0, 0])}, name="nan_bias")
    code, err = run_cli(nan_bias, capsys)
    assert (code, err) == (2, f"symnet: error: {nan_bias}: node 'gemm_y' (Gemm): NaN or Inf in the bias\n")


class Convolutional(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.Conv1d(1, 1, 1))

    def forward(self, x):
        return self.body(x)


class Rounded(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x):
        return torch.round(self.linear(x))


class Branching(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x):
        return self.linear(x) if x.sum() > 0 else -self.linear(x)


class Gated(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 2), nn.Linear(3, 2)

    def forward(self, x):
        return torch.tanh(self.a(x)) * torch.sigmoid(self.b(x))


@pytest.mark.parametrize("module, message", [
    (Convolutional, "module 'body.1' \\(Conv1d\\): this module is not supported"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)), "module '1' \\(BatchNorm1d\\)"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Hardshrink()), "module '1' \\(Hardshrink\\)"),
    (Rounded, "node 'round_1' \\(round\\): this operation is not supported"),
    (Branching, "cannot trace Branching with torch.fx"),
    (Gated, "node 'mul' \\(mul\\): multiplies or divides the outputs of two different layers"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=0)), "softmax over dim 0"),
], ids=lambda value: getattr(value, "__name__", None))
def test_torch_construct_is_named_on_one_line(module, message):
    with pytest.raises(symnet.UnsupportedError, match=message) as error:
        symnet.load(module())
    assert "\n" not in str(error.value)


def test_pickle_refused_on_the_command_line_without_trust(tmp_path, capsys):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"anything": 1}))
    code, err = run_cli(path, capsys)
    assert code == 2
    assert err == (f"symnet: error: {path}: refusing to unpickle: loading a pickle runs code from the file."
                   " Pass --trust-pickle (trust_pickle=True in symnet.load) only for a file you trust\n")
    code, err = run_cli(path, capsys, "--trust-pickle")
    assert code == 2 and "cannot load a model from a dict object" in err


@pytest.mark.parametrize("package, suffix, extra", [
    ("onnx", ".onnx", "onnx"), ("torch", ".pt", "torch"), ("joblib", ".joblib", "sklearn"),
    ("h5py", ".keras", "keras"), ("h5py", ".h5", "keras"),
])
def test_missing_extra_names_the_extra(package, suffix, extra, tmp_path, monkeypatch, capsys):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, package, None)   # import fails as if it were not installed
    with pytest.raises(MissingExtraError, match=rf"pip install symnet\[{extra}\]"):
        symnet.load(path, trust_pickle=True)
    code, err = run_cli(path, capsys, "--trust-pickle")
    assert code == 2 and err.endswith(f"pip install symnet[{extra}]\n") and err.count("\n") == 1


def test_pickled_model_whose_framework_is_missing_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(nn.Linear(2, 2)))
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingExtraError, match=r"needs torch, which is not installed: pip install symnet\[torch\]"):
        symnet.load(path, trust_pickle=True)


def test_importing_symnet_and_loading_json_imports_no_framework():
    code = ("import sys, symnet; symnet.load('examples/pxyz.json');"
            " print(sorted(m for m in ('torch', 'sklearn', 'onnx', 'h5py', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=__import__("conftest").REPO)
    assert result.stdout.strip() == "[]"


def test_unknown_option_is_named(tmp_path):
    with pytest.raises(symnet.UnsupportedError, match="option 'module' does not apply to .json files"):
        symnet.load(__import__("conftest").REPO / "examples" / "pxyz.json", module=object())
