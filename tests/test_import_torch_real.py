"""PyTorch models as scientific-ML code writes them (several arguments and results, cat,
slicing, split, dtype and device conversions, tensor guards, BatchNorm1d, sin): values,
Jacobians and Hessians against torch.func in float64, in process and through generated
C and NumPy code; and the refusals, which name the node and the line of the forward."""

import numpy as np
import pytest

import symnet
from helpers import require_module
from runners import build
from symnet.check import compare

torch = require_module("torch")

import torch_real_models as models  # noqa: E402  (needs torch)
from torch import nn  # noqa: E402

TOLERANCE = 1e-12


@pytest.fixture(scope="module", params=sorted(models.MODELS))
def imported(request):
    module, sizes = models.build(request.param)
    return request.param, module, sizes, symnet.load(module), models.sample_inputs(sizes)


def test_values_match_the_module(imported):
    _, module, sizes, net, X = imported
    got = symnet.derive(net, "value")(X.numpy())
    assert compare(got[:, :, None], models.values(module, sizes, X)[:, :, None]).max_rel_error <= TOLERANCE


def test_jacobian_matches_jacrev(imported):
    _, module, sizes, net, X = imported
    result = compare(symnet.derive(net, "jacobian")(X.numpy()), models.jacobians(module, sizes, X))
    assert result.max_rel_error <= TOLERANCE, result


def test_hessian_matches_torch_hessian(imported):
    _, module, sizes, net, X = imported
    result = compare(symnet.derive(net, "hessian")(X.numpy()), models.hessians(module, sizes, X))
    assert result.max_rel_error <= TOLERANCE, result


def test_arguments_and_results_keep_their_names_and_order():
    nets = {name: symnet.load(models.build(name)[0]) for name in ("burgers_pinn", "navier_stokes_pinn",
                                                                   "stacked_coordinates", "neural_ode")}
    assert [(i.name, i.size) for i in nets["burgers_pinn"].inputs] == [("x", 1), ("t", 1)]
    assert [i.name for i in nets["navier_stokes_pinn"].inputs] == ["x", "y", "t"]
    assert [o.name for o in nets["navier_stokes_pinn"].outputs] == ["y1", "y2", "y3"]
    assert [o.name for o in nets["stacked_coordinates"].outputs] == ["pressure", "velocity"]
    assert [(i.name, i.size) for i in nets["neural_ode"].inputs] == [("t", 1), ("y", 3)]


def test_joining_and_slicing_add_no_layers():
    """cat, the scaling to [-1, 1] and slices fold into the affine maps: one layer per Linear."""
    burgers = symnet.load(models.build("burgers_pinn")[0])
    assert [layer.transfer for layer in burgers.layers] == ["tansig", "tansig", "purelin"]
    assert [source for source, _ in burgers.layers[0].input_weights] == [0, 1]
    stokes = symnet.load(models.build("navier_stokes_pinn")[0])
    assert [layer.size for layer in stokes.layers] == [6, 6, 1, 1, 1]   # each sliced result its own row


def test_parallel_sub_networks_meet_in_the_output_layer():
    net = symnet.load(models.build("pfnn")[0])
    assert len(net.layers) == 7
    assert [source for source, _ in net.layers[-1].layer_weights] == [1, 3, 5]


def test_batch_normalization_folds_into_the_next_layer():
    net = symnet.load(models.build("mpc_policy")[0])
    assert [layer.transfer for layer in net.layers] == ["poslin", "tansig", "purelin"]


def test_tensor_guards_are_restored_after_tracing():
    before = (torch.is_tensor, torch.from_numpy, torch.as_tensor, torch.tensor)
    symnet.load(models.build("guarded")[0])
    with pytest.raises(symnet.UnsupportedError):
        symnet.load(Branching())
    assert (torch.is_tensor, torch.from_numpy, torch.as_tensor, torch.tensor) == before
    assert torch.is_tensor(np.zeros(1)) is False


@pytest.mark.parametrize("target", ["c", "numpy"])
@pytest.mark.parametrize("name", ["burgers_pinn", "navier_stokes_pinn", "siren", "mpc_policy"])
def test_generated_code_matches_torch(name, target, tmp_path):
    module, sizes = models.build(name)
    net = symnet.load(module)
    X = models.sample_inputs(sizes)
    built = build(target, net, tmp_path, name=name)
    built.check()
    assert compare(built.evaluate("jacobian", X.numpy()), models.jacobians(module, sizes, X)).max_rel_error \
        <= TOLERANCE
    assert compare(built.evaluate("hessian", X.numpy()), models.hessians(module, sizes, X)).max_rel_error \
        <= TOLERANCE


# --- refusals -----------------------------------------------------------------------------

class LayerNormed(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(2, 4)
        self.norm = nn.LayerNorm(4)
        self.last = nn.Linear(4, 1)

    def forward(self, x):
        return self.last(self.norm(torch.tanh(self.first(x))))


class HardBoundary(nn.Module):
    """u(x) = x * (1 - x) * net(x): zero at both ends by construction."""

    def __init__(self):
        super().__init__()
        self.net = models.mlp([1, 4, 1])

    def forward(self, x):
        return x * (1 - x) * self.net(x)


class Rounded(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x, t):
        return torch.floor(self.linear(torch.cat([x, t], 1)))


class Branching(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x):
        if x.sum() > 0:
            return self.linear(x)
        return -self.linear(x)


class SamplesMixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x):
        return self.linear(x).t()


class Training(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))

    def forward(self, x):
        return self.body(x)


class Ambiguous(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, x, t):
        return self.linear(torch.cat([x, t], 1))


FILE = "test_import_torch_real.py"


@pytest.mark.parametrize("module, message", [
    (LayerNormed, r"module 'norm' \(LayerNorm\): LayerNorm is not supported yet .* \(at " + FILE + r":\d+\)$"),
    (HardBoundary, r"node 'mul' \(mul\): multiplies .* hard boundary condition .* not supported yet"
                   r" \(at " + FILE + r":\d+\)$"),
    (Rounded, r"node 'floor' \(floor\): this operation is not supported.* \(at " + FILE + r":\d+\)$"),
    (Branching, r"cannot trace Branching with torch.fx at " + FILE + r":\d+: "),
    (SamplesMixed, r"node 't' \(Tensor.t\): moves the batch axis.* \(at " + FILE + r":\d+\)$"),
    (Training, r"module 'body.1' \(BatchNorm1d\): in training mode .* call model.eval\(\)"),
    (Ambiguous, r"Ambiguous: the forward accepts several input sizes \(\(1, 2\), \(2, 1\)\): pass input_size="),
], ids=lambda value: getattr(value, "__name__", None))
def test_refusals_name_the_node_and_the_line(module, message):
    with pytest.raises(symnet.UnsupportedError, match=message) as error:
        symnet.load(module().double())
    assert "\n" not in str(error.value)


def test_the_line_named_is_the_line_of_the_operation():
    import inspect
    with pytest.raises(symnet.UnsupportedError) as error:
        symnet.load(HardBoundary())
    line = next(number for number, text in enumerate(inspect.getsourcelines(HardBoundary)[0],
                                                      start=inspect.getsourcelines(HardBoundary)[1])
                if "return x * (1 - x)" in text)
    assert str(error.value).endswith(f"(at {FILE}:{line})")


def test_input_size_settles_an_ambiguous_forward():
    module = Ambiguous().double()
    net = symnet.load(module, input_size=(2, 1))
    X = models.sample_inputs((2, 1))
    assert compare(symnet.derive(net, "jacobian")(X.numpy()), models.jacobians(module, (2, 1), X)).max_rel_error \
        <= TOLERANCE


# --- the same models exported to ONNX ---------------------------------------------------------

onnx = require_module("onnx")
onnxruntime = require_module("onnxruntime")
require_module("onnxscript")   # the dynamo exporter needs it

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
ONNX_CASES = [(name, how) for name in sorted(models.MODELS) for how in EXPORTS
              if name != "navier_stokes_pinn" and not (name == "guarded" and how != "dynamo")]


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


def test_input_sizes_by_argument_name_from_a_state_dict_file(tmp_path):
    module = Ambiguous().double()
    torch.save(module.state_dict(), tmp_path / "ambiguous.pt")
    net = symnet.load(tmp_path / "ambiguous.pt", module=Ambiguous().double(), input_sizes={"t": 1, "x": 2})
    assert [(i.name, i.size) for i in net.inputs] == [("x", 2), ("t", 1)]
    with pytest.raises(symnet.UnsupportedError, match="input sizes are given for 'z', but its arguments are 'x', 't'"):
        symnet.load(tmp_path / "ambiguous.pt", module=Ambiguous().double(), input_sizes={"z": 1})


@pytest.mark.parametrize("module, message", [
    (LayerNormed, r"\(LayerNormalization\): operator LayerNormalization \(layer normalization, not supported yet\)"),
    (HardBoundary, r"\(Mul\): multiplies .* hard boundary condition .* not supported yet"),
    (SamplesMixed, r"\(Transpose\): moves the batch axis"),
], ids=lambda value: getattr(value, "__name__", None))
def test_onnx_refusals_name_the_node(module, message, tmp_path):
    path = tmp_path / "model.onnx"
    export(module().double().eval(), (1,) if module is HardBoundary else (2,), path, "dynamo")
    with pytest.raises(symnet.UnsupportedError, match=message) as error:
        symnet.load(path)
    assert "\n" not in str(error.value)


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
