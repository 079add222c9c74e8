"""ONNX import, checked against onnxruntime's own evaluation: models exported by
torch.onnx.export from real torch MLPs (normalization inside the graph), and
hand-built graphs for the operators and attributes torch does not emit."""

import io
import warnings

import numpy as np
import pytest

import symnet
from helpers import require_module
from symnet.reference.finite_differences import central_jacobian, compare

torch = require_module("torch")
onnx = require_module("onnx")
ort = require_module("onnxruntime")

import torch_models  # noqa: E402  (needs torch)
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

#: (torch model, opset, onnxruntime runs it in float64 too)
EXPORTS = [
    ("tanh_sigmoid", 9, True),
    ("silu_gelu", 17, False),           # SiLU as Sigmoid*Mul, GELU as Div/Erf/Add/Mul/Mul
    ("silu_gelu", 20, False),           # GELU as the native Gelu operator
    ("relu_softmax", 13, True),
    ("elu_selu_softplus", 11, False),
    ("leaky_hardtanh_hardsigmoid_softsign", 17, False),
    ("gelu_tanh_residual", 17, False),
]


def export(module, opset, dtype=torch.float32):
    buffer = io.BytesIO()
    example = torch.zeros(1, torch_models.N_INPUTS, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.to(dtype), example, buffer, dynamo=False, opset_version=opset,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}})
    module.double()
    return buffer.getvalue()


def normwise(outputs, expected):
    """Errors relative to the largest |output| of each sample (float32 results lose relative
    precision in an output that is small next to the others)."""
    return compare(outputs[:, None, :], expected[:, None, :])


def normwise_jacobian(jacobian, differences):
    """Errors relative to the largest |entry| of each sample's Jacobian: differences of float32
    results carry noise near 1e-4 of that, too much for a small entry on its own."""
    n = len(jacobian)
    return compare(jacobian.reshape(n, 1, -1), differences.reshape(n, 1, -1))


def runner(model_bytes, dtype):
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return lambda X: session.run(None, {"x": np.asarray(X, dtype=dtype)})[0].astype(float)


@pytest.fixture(scope="module", params=EXPORTS, ids=lambda e: f"{e[0]}-opset{e[1]}")
def exported(request, tmp_path_factory):
    name, opset, runs_in_double = request.param
    module = torch_models.build(name)
    path = tmp_path_factory.mktemp("onnx") / f"{name}.onnx"
    path.write_bytes(export(module, opset))
    X = torch_models.sample_inputs(8, normalized=torch_models.is_normalized(name))
    return name, module, path, X.numpy(), runs_in_double, opset


def test_outputs_match_onnxruntime_float32(exported):
    name, module, path, X, _, _ = exported
    net = symnet.load(path)
    expected = runner(path.read_bytes(), np.float32)(X)
    result = normwise(net.evaluate(X), expected)
    assert result.max_rel_error <= 1e-6, result


def test_jacobian_matches_torch_jacrev_in_float64(exported):
    """The imported (float32) weights are exact in float64; only float32 constants the
    exporter wrote into the graph (1/sqrt(2) in GELU, SELU's alpha) differ from torch's."""
    name, module, path, X, _, _ = exported
    net = symnet.load(path)
    expected = torch_models.jacobians(module.float().double(), torch.tensor(X))
    result = compare(symnet.derive(net, "jacobian")(X), expected)
    assert result.max_rel_error <= 1e-6, result


def test_jacobian_matches_finite_differences_of_onnxruntime(exported):
    name, module, path, X, runs_in_double, opset = exported
    net = symnet.load(path)
    jacobian = symnet.derive(net, "jacobian")(X)
    scale = np.std(X, axis=0)
    if runs_in_double:  # the same network exported in float64: tight differences
        model_bytes, dtype, step, tolerance = export(torch_models.build(name), opset, torch.float64), \
            np.float64, 1e-4, 1e-7
        jacobian = symnet.derive(symnet.load(onnx.load_from_string(model_bytes)), "jacobian")(X)
    else:  # float32 evaluation: rounding noise of the differences reaches a few 1e-3 of the
        # largest entry (outputs with large offsets); a wrong derivative is off by far more
        model_bytes, dtype, step, tolerance = path.read_bytes(), np.float32, 1e-2, 1e-2
    run = runner(model_bytes, dtype)
    keep = smooth_samples(run, X, step * scale)
    differences = central_jacobian(run, X[keep], step * scale)
    result = (compare if dtype == np.float64 else normwise_jacobian)(jacobian[keep], differences)
    assert result.max_rel_error <= tolerance, result


def smooth_samples(run, X, steps):
    """Samples where a difference with ``steps`` is meaningful: no kink (relu, elu, clip) lies
    within a step there, judged by onnxruntime itself: half the step gives nearly the same
    (a kink in reach changes a difference by percents, float32 rounding by about 1e-3)."""
    wide, narrow = central_jacobian(run, X, steps), central_jacobian(run, X, steps / 2)
    keep = [s for s in range(len(X)) if compare(wide[s:s + 1], narrow[s:s + 1]).max_rel_error <= 1e-2]
    assert len(keep) >= len(X) // 2, "too few samples away from kinks"
    return keep


def test_activations_and_normalization_are_recognized(exported):
    name, _, path, _, _, opset = exported
    net = symnet.load(path)
    transfers = [layer.transfer for layer in net.layers]
    if name == "silu_gelu":
        assert transfers[0] == "swish"     # Sigmoid then Mul with its own input
        assert transfers[1] == ("gelu" if opset >= 20 else "expression")
    if torch_models.is_normalized(name):
        assert [s.kind for s in net.inputs[0].steps] == ["mapstd"]
        assert len(net.outputs[0].steps) == 1


# --- hand-built graphs ----------------------------------------------------------------

RNG = np.random.default_rng(7)
W1, B1 = RNG.normal(size=(4, 3)), RNG.normal(size=4)
W2, B2 = RNG.normal(size=(2, 4)), RNG.normal(size=2)


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def graph_model(nodes, initializers, input_shape=("batch", 3), output="y", opset=17):
    graph = helper.make_graph(
        nodes, "hand_built",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
        [_init(name, value) for name, value in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def two_layer(activation_nodes, opset=17, **extra):
    """x -> Gemm(transB=0, alpha, beta) -> activation nodes (h -> a) -> MatMul + Add -> y."""
    nodes = [helper.make_node("Gemm", ["x", "W1t", "B1"], ["h"], alpha=0.5, beta=2.0, transB=0, name="first"),
             *activation_nodes,
             helper.make_node("MatMul", ["a", "W2t"], ["m"], name="second"),
             helper.make_node("Add", ["m", "B2"], ["y"])]
    return graph_model(nodes, {"W1t": W1.T, "B1": B1, "W2t": W2.T, "B2": B2, **extra}, opset=opset)


HAND_BUILT = {
    "clip_opset11": two_layer([helper.make_node("Clip", ["h", "lo", "hi"], ["a"])], opset=11,
                              lo=np.float32(-0.3), hi=np.float32(0.9)),
    "clip_attributes_opset9": two_layer([helper.make_node("Clip", ["h"], ["a"], min=-0.3, max=0.9)], opset=9),
    "clip_min_only": two_layer([helper.make_node("Clip", ["h", "lo"], ["a"])], opset=13, lo=np.float32(0.1)),
    "hardsigmoid": two_layer([helper.make_node("HardSigmoid", ["h"], ["a"], alpha=0.3, beta=0.4)]),
    "softsign": two_layer([helper.make_node("Softsign", ["h"], ["a"])]),
    "softplus": two_layer([helper.make_node("Softplus", ["h"], ["a"])]),
    "selu_attributes": two_layer([helper.make_node("Selu", ["h"], ["a"], alpha=1.5, gamma=1.1)]),
    "elu": two_layer([helper.make_node("Elu", ["h"], ["a"], alpha=0.6)]),
    "leakyrelu": two_layer([helper.make_node("LeakyRelu", ["h"], ["a"], alpha=0.2)]),
    "gelu_tanh_native": two_layer([helper.make_node("Gelu", ["h"], ["a"], approximate="tanh")], opset=20),
    "mish_composite": two_layer([helper.make_node("Softplus", ["h"], ["s"]),
                                 helper.make_node("Tanh", ["s"], ["t"]),
                                 helper.make_node("Mul", ["h", "t"], ["a"])]),
    "constant_scalars": two_layer([helper.make_node("Constant", [], ["c"], value_float=1.7),
                                   helper.make_node("Mul", ["h", "c"], ["hc"]),
                                   helper.make_node("Tanh", ["hc"], ["t"]),
                                   helper.make_node("Sub", ["one", "t"], ["a"])],
                                  one=np.float32(1.0)),
    "identity_and_per_unit_scaling": two_layer([helper.make_node("Identity", ["h"], ["i"]),
                                                helper.make_node("Mul", ["i", "s"], ["si"]),
                                                helper.make_node("Sigmoid", ["si"], ["g"]),
                                                helper.make_node("Div", ["g", "d"], ["a"])],
                                               s=np.float32([0.5, 1.0, 2.0, -1.0]),
                                               d=np.float32([2.0, 4.0, 0.5, 1.0])),
    "softmax_opset11_axis1": graph_model(
        [helper.make_node("Gemm", ["x", "W1", "B1"], ["h"], transB=1),
         helper.make_node("Softmax", ["h"], ["y"], axis=1)], {"W1": W1, "B1": B1}, opset=11),
}


def batch_of_one_graph():
    """Input (1, 1, 3): Flatten and Squeeze/Reshape only drop batch-of-one axes."""
    nodes = [helper.make_node("Unsqueeze", ["x", "axes"], ["u"]),
             helper.make_node("Flatten", ["u"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "W1", "B1"], ["h"], transB=1),
             helper.make_node("Tanh", ["h"], ["t"]),
             helper.make_node("Reshape", ["t", "shape"], ["r"]),
             helper.make_node("Squeeze", ["r", "axes"], ["q"]),
             helper.make_node("Gemm", ["q", "W2", "B2"], ["y"], transB=1)]
    initializers = {"W1": W1, "B1": B1, "W2": W2, "B2": B2}
    model = graph_model(nodes, initializers, input_shape=(1, 1, 3))
    model.graph.initializer.extend([numpy_helper.from_array(np.array([1, 1, 4], dtype=np.int64), "shape"),
                                    numpy_helper.from_array(np.array([0], dtype=np.int64), "axes")])
    return model


@pytest.mark.parametrize("name", sorted(HAND_BUILT))
def test_hand_built_graph_matches_onnxruntime(name):
    model = HAND_BUILT[name]
    net = symnet.load(model)
    X = RNG.normal(size=(5, 3))
    run = runner(model.SerializeToString(), np.float32)
    assert normwise(net.evaluate(X), run(X)).max_rel_error <= 1e-6
    keep = smooth_samples(run, X, np.full(3, 1e-2))
    differences = central_jacobian(run, X[keep], np.full(3, 1e-2))
    assert normwise_jacobian(symnet.derive(net, "jacobian")(X[keep]), differences).max_rel_error <= 2e-3


def test_batch_of_one_shapes_match_onnxruntime():
    model = batch_of_one_graph()
    net = symnet.load(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for x in RNG.normal(size=(3, 3)):
        expected = session.run(None, {"x": x.reshape(1, 1, 3).astype(np.float32)})[0].reshape(-1)
        assert normwise(net.evaluate(x[None, :]), expected[None, :]).max_rel_error <= 1e-6


def test_gemm_attributes_and_scalers_land_in_the_right_place():
    net = symnet.load(HAND_BUILT["identity_and_per_unit_scaling"])
    assert [layer.transfer for layer in net.layers] == ["logsig", "purelin"]
    # the per-unit scaling before the sigmoid folded into the first layer's weights, alpha included
    np.testing.assert_array_equal(net.layers[0].input_weights[0][1],
                                  (np.float32(W1.T).T.astype(float) * 0.5) * [[0.5], [1.0], [2.0], [-1.0]])
    mish = symnet.load(HAND_BUILT["mish_composite"]).layers[0]
    text = dict(mish.transfer_params)["expression"]
    assert mish.transfer == "expression" and text.startswith("n*tanh(") and "log(exp(" in text
