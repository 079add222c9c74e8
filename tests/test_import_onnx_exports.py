"""The scientific-ML models of torch_real_models exported to ONNX as torch exports them today:
the dynamo exporter (torch's default, opset 18 and newer, weights in an external data file) and
the torchscript exporter at opsets 11 and 17; values against onnxruntime, Jacobians against
torch.func.jacrev in float64; external data that leaves the model's folder; and the refusals."""

import numpy as np
import pytest

import symnet
from helpers import require_module
from symnet.reference.finite_differences import compare

torch = require_module("torch")
onnx = require_module("onnx")
onnxruntime = require_module("onnxruntime")
require_module("onnxscript")   # the dynamo exporter needs it

import torch_real_models as models  # noqa: E402  (needs torch)

#: how each model is exported: the dynamo exporter (torch's default, weights in a .data file),
#: and the torchscript exporter at opsets 11 and 17.  torch.hstack exports as sequence operators
#: and an If, which symnet does not read; the guarded forward's .double() does not export in
#: torchscript
EXPORTS = ("dynamo", 11, 17)
SAMPLES = 5   # the exporters fix the batch size
#: onnxruntime has no float64 kernel of Softplus, Erf or Mish: the values of these are compared with torch's
NO_FLOAT64_KERNEL = {"neural_ode", "stacked_coordinates", "guarded"}
#: the torchscript exporter drops an argument the forward does not use (the neural ODE's t, the first)
DROPPED_FIRST_ARGUMENT = {("neural_ode", 11), ("neural_ode", 17)}
#: before opset 17 the torchscript exporter spells LayerNorm as ReduceMean, Sub, Pow, Sqrt and Div,
#: which symnet does not reassemble (test_layer_norm_before_opset_17_is_refused_by_name); the dynamo
#: exporter spells RMSNorm so too (ReduceMean), and the torchscript one cannot export it
ONNX_CASES = [(name, how) for name in sorted(models.MODELS) for how in EXPORTS
              if name != "navier_stokes_pinn" and not (name == "guarded" and how != "dynamo")
              and not (name in ("mpc_layer_norm", "wide_layer_norm_mpc") and how == 11) and name != "rms_normed"]


def export(module, sizes, path, how):
    import contextlib
    import io
    arguments = tuple(torch.rand(SAMPLES, size, dtype=torch.float64) for size in sizes)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if how == "dynamo":
            torch.onnx.export(module, arguments, str(path))
        else:
            torch.onnx.export(module, arguments, str(path), dynamo=False, opset_version=how)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    paths = {}
    for name, how in ONNX_CASES:
        module, sizes = models.build(name)
        paths[name, how] = folder / f"{name}_{how}.onnx"
        export(module, sizes, paths[name, how], how)
    return paths


def onnxruntime_values(path, sizes, X):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds, start = {}, 0
    for item, size in zip(session.get_inputs(), sizes):
        feeds[item.name] = X[:, start:start + size]
        start += size
    return np.concatenate([np.reshape(r, (len(X), -1)) for r in session.run(None, feeds)], axis=1)


@pytest.mark.parametrize("name, how", ONNX_CASES, ids=[f"{name}-{how}" for name, how in ONNX_CASES])
def test_onnx_exports_match_onnxruntime_and_jacrev(exported, name, how):
    module, sizes = models.build(name)
    X = models.sample_inputs(sizes, count=SAMPLES)
    net = symnet.load(exported[name, how])
    kept = slice(sizes[0], None) if (name, how) in DROPPED_FIRST_ARGUMENT else slice(None)
    assert net.n_inputs == X[:, kept].shape[1]
    if name in NO_FLOAT64_KERNEL:
        values = models.values(module, sizes, X)
    else:
        values = onnxruntime_values(exported[name, how], sizes, X.numpy())
    got = symnet.derive(net, "value")(X[:, kept].numpy())
    assert compare(got[:, :, None], values[:, :, None]).max_rel_error <= 1e-12
    expected = models.jacobians(module, sizes, X)
    assert not np.any(expected[:, :, :kept.start or 0])
    result = compare(symnet.derive(net, "jacobian")(X[:, kept].numpy()), expected[:, :, kept])
    assert result.max_rel_error <= 1e-12, result


@pytest.mark.parametrize("how", ["dynamo", 17])
def test_layer_normalization_exports_in_the_layered_strategy_match_torch(exported, how, tmp_path):
    """LayerNormalization read from the export, written as layered C: value, Jacobian and
    Hessian against torch.func in float64."""
    from runners import build
    module, sizes = models.build("wide_layer_norm_mpc")
    net = symnet.load(exported["wide_layer_norm_mpc", how])
    X = models.sample_inputs(sizes, count=SAMPLES)
    built = build("c", net, tmp_path, name="wide_layer_norm_mpc", strategy="layered")
    results = built.evaluate_many(("value", "jacobian", "hessian"), X.numpy())
    assert compare(results["value"][:, :, None], models.values(module, sizes, X)[:, :, None]).max_rel_error <= 1e-12
    assert compare(results["jacobian"], models.jacobians(module, sizes, X)).max_rel_error <= 1e-12
    assert compare(results["hessian"], models.hessians(module, sizes, X)).max_rel_error <= 1e-12


def test_dynamo_export_keeps_its_weights_in_an_external_file(exported):
    path = exported["burgers_pinn", "dynamo"]
    model = onnx.load(str(path), load_external_data=False)
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


@pytest.mark.parametrize("location, message", [
    ("../outside.data", "leaves the model's folder"),
    ("/etc/passwd", "is absolute"),
    ("link.data", "leaves the model's folder"),
    ("missing.data", "is not in the model's folder"),
])
def test_external_data_is_read_only_from_the_models_folder(exported, tmp_path, location, message):
    source = exported["burgers_pinn", "dynamo"]
    folder = tmp_path / "model"
    folder.mkdir()
    model = onnx.load(str(source), load_external_data=False)
    data = source.with_name(source.name + ".data").read_bytes()
    (tmp_path / "outside.data").write_bytes(data)
    (folder / "link.data").symlink_to(tmp_path / "outside.data")
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(symnet.SymnetError, match=f"initializer '.*': its external data .*{message}"):
        symnet.load(path)



@pytest.mark.parametrize("module, message", [
    (models.GroupNormed, r"\(InstanceNormalization\): operator InstanceNormalization is not supported"),
    (models.MappedThenLayer, r"an output map .* must be the last operation before a graph output"),
    (models.SamplesMixed, r"\(Transpose\): moves the batch axis"),
], ids=lambda value: getattr(value, "__name__", None))
def test_onnx_refusals_name_the_node(module, message, tmp_path):
    path = tmp_path / "model.onnx"
    export(module().double().eval(), (1,) if module is models.MappedThenLayer else (2,), path, "dynamo")
    with pytest.raises(symnet.UnsupportedError, match=message) as error:
        symnet.load(path)
    assert "\n" not in str(error.value)


def test_layer_norm_before_opset_17_is_refused_by_name(tmp_path):
    module, sizes = models.build("mpc_layer_norm")
    export(module, sizes, tmp_path / "model.onnx", 11)
    with pytest.raises(symnet.UnsupportedError, match=r"'/norm/ReduceMean' \(ReduceMean\): operator ReduceMean"):
        symnet.load(tmp_path / "model.onnx")


def onnx_graph(nodes, initializers=()):
    from onnx import TensorProto, helper
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)],
                              [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in initializers])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_onnx_where_of_a_comparison_is_one_piecewise_function():
    from onnx import helper
    zero = ("zero", np.zeros(1))
    model = onnx_graph([helper.make_node("Greater", ["x", "zero"], ["positive"]),
                        helper.make_node("Sin", ["x"], ["s"]),
                        helper.make_node("Where", ["positive", "s", "zero"], ["y"])], [zero])
    net = symnet.load(model)
    X = np.array([[-1.0, 0.5, 2.0], [0.3, -0.2, 0.0]])
    assert np.array_equal(net.evaluate(X), np.where(X > 0, np.sin(X), 0.0))


@pytest.mark.parametrize("nodes, message", [
    ([("Where", ["x", "x", "x"])], "Where is supported only on a comparison of the data with a constant"),
    ([("Greater", ["x", "x"]), ("Where", ["y0", "x", "x"])], "only comparisons of the data with a constant"),
    ([("Concat", ["x", "three"], {"axis": 1})], "joins the data with a constant tensor"),
    ([("BatchNormalization", ["x", "three", "three", "three", "three"], {"training_mode": 1})],
     "training mode"),
])
def test_onnx_refusals_of_the_new_operators(nodes, message):
    from onnx import helper
    made = []
    for number, (op, inputs, *attrs) in enumerate(nodes):
        output = "y" if number == len(nodes) - 1 else f"y{number}"
        made.append(helper.make_node(op, inputs, [output], **(attrs[0] if attrs else {})))
    with pytest.raises(symnet.UnsupportedError, match=message):
        symnet.load(onnx_graph(made, [("three", np.ones((2, 3)) if nodes[0][0] == "Concat" else np.ones(3))]))


def test_onnx_layer_normalization_with_its_scale_and_bias_matches_the_formula():
    from onnx import helper
    scale, bias = ("scale", np.array([0.5, 2.0, -1.0])), ("bias", np.array([0.1, 0.0, -0.3]))
    model = onnx_graph([helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"], epsilon=0.25)],
                       [scale, bias])
    X = np.array([[-1.0, 0.5, 2.0], [0.3, -0.2, 0.0]])
    centered = X - X.mean(axis=1, keepdims=True)
    expected = centered / np.sqrt((centered**2).mean(axis=1, keepdims=True) + 0.25) * scale[1] + bias[1]
    np.testing.assert_allclose(symnet.load(model).evaluate(X), expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("attributes, outputs, message", [
    ({"axis": 0}, ["y"], "layer normalization from axis 0 is not over the features only"),
    ({}, ["y", "mean"], "the mean and inverse standard deviation outputs are not supported"),
])
def test_onnx_layer_normalization_refusals(attributes, outputs, message):
    from onnx import helper
    model = onnx_graph([helper.make_node("LayerNormalization", ["x", "scale"], outputs, **attributes)],
                       [("scale", np.ones(3))])
    with pytest.raises(symnet.UnsupportedError, match=message):
        symnet.load(model)
