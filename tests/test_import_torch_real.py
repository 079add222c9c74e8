"""PyTorch models as scientific-ML code writes them (several arguments and results, cat,
slicing, split, dtype and device conversions, tensor guards, BatchNorm1d, sin): values,
Jacobians and Hessians against torch.func in float64, in process and through generated
C and NumPy code; and the refusals, which name the node and the line of the forward."""

import numpy as np
import pytest

import symnet
from helpers import require_module
from runners import build
from symnet.reference.finite_differences import compare

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
        symnet.load(models.Branching())
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


@pytest.mark.parametrize("target", ["c", "numpy", "matlab"])
def test_layer_norm_in_the_layered_strategy_matches_torch(target, tmp_path):
    """LayerNorm (rms_norm after its centering) written as layered steps: value, Jacobian and
    Hessian of the generated code against torch.func, and the code's own 30-digit self-check."""
    from symnet.emit.layered_common import LAYERED_FROM_PARAMETERS
    module, sizes = models.build("wide_layer_norm_mpc")
    net = symnet.load(module)
    assert net.parameter_count >= LAYERED_FROM_PARAMETERS
    assert [layer.transfer for layer in net.layers].count("rms_norm") == 2
    X = models.sample_inputs(sizes)
    built = build(target, net, tmp_path, name="wide_layer_norm_mpc", strategy="layered")
    built.check()
    results = built.evaluate_many(("value", "jacobian", "hessian"), X.numpy())
    expected = {"value": models.values(module, sizes, X), "jacobian": models.jacobians(module, sizes, X),
                "hessian": models.hessians(module, sizes, X)}
    for what, want in expected.items():
        assert compare(results[what], want).max_rel_error <= TOLERANCE, what


# --- refusals -----------------------------------------------------------------------------

FILE = "torch_real_models.py"


@pytest.mark.parametrize("module, message", [
    (models.GroupNormed, r"module 'norm' \(GroupNorm\): GroupNorm is not supported yet .* \(at " + FILE + r":\d+\)$"),
    (models.MappedThenLayer, r"module 'head' \(Linear\): an output map .* must be the last operation before a"
                              r" graph output \(at " + FILE + r":\d+\)$"),
    (models.Rounded, r"node 'floor' \(floor\): this operation is not supported.* \(at " + FILE + r":\d+\)$"),
    (models.Branching, r"cannot trace Branching with torch.fx at " + FILE + r":\d+: "),
    (models.SamplesMixed, r"node 't' \(Tensor.t\): moves the batch axis.* \(at " + FILE + r":\d+\)$"),
    (models.Training, r"module 'body.1' \(BatchNorm1d\): in training mode .* call model.eval\(\)"),
    (models.Ambiguous, r"Ambiguous: the forward accepts several input sizes \(\(1, 2\), \(2, 1\)\): pass input_size="),
], ids=lambda value: getattr(value, "__name__", None))
def test_refusals_name_the_node_and_the_line(module, message):
    with pytest.raises(symnet.UnsupportedError, match=message) as error:
        symnet.load(module().double())
    assert "\n" not in str(error.value)


def test_the_line_named_is_the_line_of_the_operation():
    import inspect
    with pytest.raises(symnet.UnsupportedError) as error:
        symnet.load(models.MappedThenLayer())
    line = next(number for number, text in enumerate(inspect.getsourcelines(models.MappedThenLayer)[0],
                                                      start=inspect.getsourcelines(models.MappedThenLayer)[1])
                if "return self.head(x * self.net(x))" in text)
    assert str(error.value).endswith(f"(at {FILE}:{line})")


def test_input_size_settles_an_ambiguous_forward():
    module = models.Ambiguous().double()
    net = symnet.load(module, input_size=(2, 1))
    X = models.sample_inputs((2, 1))
    assert compare(symnet.derive(net, "jacobian")(X.numpy()), models.jacobians(module, (2, 1), X)).max_rel_error \
        <= TOLERANCE


def test_input_sizes_by_argument_name_from_a_state_dict_file(tmp_path):
    module = models.Ambiguous().double()
    torch.save(module.state_dict(), tmp_path / "ambiguous.pt")
    net = symnet.load(tmp_path / "ambiguous.pt", module=models.Ambiguous().double(), input_sizes={"t": 1, "x": 2})
    assert [(i.name, i.size) for i in net.inputs] == [("x", 2), ("t", 1)]
    with pytest.raises(symnet.UnsupportedError, match="input sizes are given for 'z', but its arguments are 'x', 't'"):
        symnet.load(tmp_path / "ambiguous.pt", module=models.Ambiguous().double(), input_sizes={"z": 1})
