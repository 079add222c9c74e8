"""Output maps u = E(x, y) (hard boundary conditions): value, Jacobian and Hessian in
process, in the high-precision reference and in the generated code, against torch.func
in float64 on the same transform written in torch, and against central differences;
the JSON field; hostile expression text refused."""

import dataclasses

import numpy as np
import pytest

import symnet
from symnet.reference.finite_differences import compare, finite_difference_hessian, finite_difference_jacobian
from symnet.errors import ModelFormatError
from symnet.reference.high_precision import reference_values
from symnet.importers.json_format import network_from_dict, network_to_dict

import runners
from helpers import require_module

torch = require_module("torch")
from torch import nn  # noqa: E402  (needs torch)

WHATS = ("value", "jacobian", "hessian")

#: DeepXDE's hard boundary condition on [0, 1]: u = x (1 - x) N(x)
DEEPXDE_MAP = "x_0*(1 - x_0)*y"
#: a PINN's u(x, t) = x (1 - x) t N(x, t) + sin(pi x)
PINN_MAP = "x_0*(1 - x_0)*x_1*y + sin(pi*x_0)"


def _body(n_inputs, seed, n_outputs=1):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_inputs, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(),
                         nn.Linear(8, n_outputs)).double()


def deepxde_transform(x, y):
    return x[..., 0:1] * (1 - x[..., 0:1]) * y


def pinn_transform(x, y):
    return x[..., 0:1] * (1 - x[..., 0:1]) * x[..., 1:2] * y + torch.sin(torch.pi * x[..., 0:1])


def two_row_transform(x, y):
    """Row 1 vanishes at x_0 = 0 and 1, row 2 is the network's own value."""
    return torch.cat([x[..., 0:1] * (1 - x[..., 0:1]) * torch.exp(x[..., 1:2]) * y[..., 0:1], y[..., 1:2]], -1)


def kink_transform(x, y):
    """A choice and an absolute value (the points stay off their kinks)."""
    position, time = x[..., 0:1], x[..., 1:2]
    return torch.where(position > 0.5, y, position * y) + torch.abs(time - 0.3)


#: label: (inputs, outputs, the maps, the same transform in torch)
CASES = {"deepxde": (1, 1, DEEPXDE_MAP, deepxde_transform), "pinn": (2, 1, PINN_MAP, pinn_transform),
         "two_rows": (2, 2, ("x_0*(1 - x_0)*exp(x_1)*y", "y"), two_row_transform),
         "kink": (2, 1, "Piecewise((y, x_0 > 0.5), (x_0*y, True)) + Abs(x_1 - 0.3)", kink_transform)}


def with_map(net, text):
    texts = (text,) if isinstance(text, str) else tuple(text)
    return dataclasses.replace(net, outputs=tuple(dataclasses.replace(o, output_map=texts) for o in net.outputs))


def torch_references(body, transform, X):
    """Value, Jacobian and Hessian of transform(x, body(x)) by torch.func, point by point."""
    def u(x):   # one point as a batch of one, as the forward sees it
        return transform(x[None], body(x[None]))[0]
    points = torch.tensor(X, dtype=torch.float64)
    return {"value": torch.stack([u(x) for x in points]).detach().numpy(),
            "jacobian": torch.stack([torch.func.jacrev(u)(x) for x in points]).detach().numpy(),
            "hessian": torch.stack([torch.func.hessian(u)(x) for x in points]).detach().numpy()}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    n_inputs, n_outputs, text, transform = CASES[request.param]
    body = _body(n_inputs, seed=3, n_outputs=n_outputs)
    net = with_map(symnet.load(body), text)
    X = np.random.default_rng(5).uniform(0.0, 1.0, (6, n_inputs))
    return net, X, torch_references(body, transform, X)


@pytest.mark.parametrize("what", WHATS)
def test_in_process_matches_torch_func(case, what):
    net, X, expected = case
    result = compare(symnet.derive(net, what)(X), expected[what])
    assert result.max_rel_error <= 1e-12, result


@pytest.mark.parametrize("what", WHATS)
def test_high_precision_reference_matches_torch_func(case, what):
    net, X, expected = case
    result = compare(reference_values(net, what, X).astype(float), expected[what])
    assert result.max_rel_error <= 1e-12, result


def test_reverse_mode_reference_falls_back_to_forward_mode(case):
    net, X, expected = case
    result = compare(reference_values(net, "jacobian", X, mode="reverse").astype(float), expected["jacobian"])
    assert result.max_rel_error <= 1e-12, result


def test_direct_evaluation_and_central_differences(case):
    net, X, expected = case
    assert compare(net.evaluate(X), expected["value"]).max_rel_error <= 1e-12
    jacobian = symnet.derive(net, "jacobian")(X)
    assert compare(jacobian, finite_difference_jacobian(net, X)).max_rel_error <= 1e-6
    hessian = finite_difference_hessian(symnet.derive(net, "jacobian"), net, X)
    assert compare(symnet.derive(net, "hessian")(X), hessian).max_rel_error <= 1e-6


@pytest.mark.parametrize("label", ["deepxde", "pinn", "two_rows"])
def test_map_vanishes_on_the_boundary(label):
    n_inputs, n_outputs, text, _ = CASES[label]
    net = with_map(symnet.load(_body(n_inputs, seed=3, n_outputs=n_outputs)), text)
    X = np.random.default_rng(5).uniform(0.0, 1.0, (6, n_inputs))
    X[:, 0] = 0.0
    assert np.all(net.evaluate(X)[:, 0] == 0.0)
    assert np.all(symnet.derive(net, "value")(X)[:, 0] == 0.0)


@pytest.mark.parametrize("variant", runners.variants(), ids=runners.variant_id)
def test_generated_code_matches_torch_func(case, variant, tmp_path):
    net, X, expected = case
    target, strategy = variant
    built = runners.build(target, net, tmp_path, strategy=strategy)
    built.check()
    results = built.evaluate_many(WHATS, X)
    for what in WHATS:
        result = compare(results[what], expected[what])
        assert result.max_rel_error <= 1e-12, (what, result)


@pytest.mark.parametrize("what", WHATS + ("gradient",))
def test_layered_numpy_in_process_matches_the_closed_form(case, what):
    from symnet.emit.numpy.function import layered_numpy_function
    net, X, _ = case
    if what == "gradient":   # of the first row, for a network with one output row
        net = with_map(symnet.load(_body(net.n_inputs, seed=4)), net.outputs[0].output_map[0])
    result = compare(layered_numpy_function(net, what)(X), symnet.api._closed_form(net, what)(X))
    assert result.max_rel_error <= 1e-13, result


def test_latex_compiles(case, tmp_path):
    net, _, _ = case
    runners.build("latex", net, tmp_path, derivatives=("value", "jacobian")).check()


def test_json_round_trip_keeps_the_map(case):
    net, X, _ = case
    data = network_to_dict(net)
    maps = net.outputs[0].output_map
    assert data["outputs"][0]["map"] == (maps[0] if len(maps) == 1 else list(maps))
    again = network_from_dict(data)
    assert again.outputs[0].output_map == net.outputs[0].output_map
    assert np.array_equal(again.evaluate(X), net.evaluate(X))


def test_json_file_errors_name_the_file(tmp_path):
    data = network_to_dict(with_map(symnet.load(_body(2, seed=1)), PINN_MAP))
    data["outputs"][0]["map"] = "x_7*y"
    path = tmp_path / "model.json"
    import json
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFormatError) as error:
        symnet.load(path)
    assert str(path) in str(error.value) and "x_7" in str(error.value)


@pytest.mark.parametrize("text, problem", [
    ("__import__('os').system('true')", "not allowed"),
    ("y.__class__", "not allowed"),
    ("open('f')", "not allowed"),
    ("z*y", "'z'"),
    ("x_2*y", "'x_2'"),
    ("lambda: y", "not allowed"),
    ("y**1000", "exponent"),
    ("y" + "+y" * 3000, "not valid"),
    ("+".join(["y*x_0"] * 800), "parts"),
    ("y < 1", "number-valued"),
])
def test_hostile_or_wrong_map_text_is_refused(text, problem):
    net = symnet.load(_body(2, seed=1))
    with pytest.raises(ModelFormatError) as error:
        with_map(net, text)
    assert problem in str(error.value) and "\n" not in str(error.value)


def test_one_map_per_row_or_one_for_all():
    torch.manual_seed(0)
    net = symnet.load(nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2)).double())
    X = np.random.default_rng(0).uniform(size=(3, 2))
    per_row = dataclasses.replace(net, outputs=(dataclasses.replace(net.outputs[0], output_map=("x_0*y", "y + x_1")),))
    plain = net.evaluate(X)
    assert np.allclose(per_row.evaluate(X), np.stack([X[:, 0] * plain[:, 0], plain[:, 1] + X[:, 1]], axis=1))
    with pytest.raises(ModelFormatError, match="3 output maps for 2 rows"):
        dataclasses.replace(net, outputs=(dataclasses.replace(net.outputs[0], output_map=("y",) * 3),))


def test_latex_shows_the_map_and_every_input_by_its_own_number(tmp_path):
    torch.manual_seed(0)
    small = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    net = with_map(symnet.load(small), PINN_MAP)   # small enough for the closed form to be printed
    symnet.generate(net, ["latex"], tmp_path, derivatives=("value",), name="model")
    text = (tmp_path / "model_equations.tex").read_text()
    assert r"u_{1} = E_{1}(x, y_{1}) = x_{1} x_{2} y_{1} \left(1 - x_{1}\right) + \sin{\left(\pi x_{1} \right)}" in text
    closed = next(line for line in text.splitlines() if line.startswith(r"\noindent$y_{1} = "))
    assert r"\sin(\pi \cdot x_{1})" in closed and "x_{2}" in closed and "x_{3}" not in closed


# --- importers: the transform written in the forward becomes the output map ---------------

class Transformed(nn.Module):
    """A DeepXDE-style FNN with its output transform applied in forward (PINN code)."""

    def __init__(self, n_inputs, transform):
        super().__init__()
        self.body = _body(n_inputs, seed=11)
        self.transform = transform

    def forward(self, x):
        return self.transform(x, self.body(x))


def sliced_pinn_transform(x, y):
    """u = x t N + x0 with the columns taken apart first, as PINN code writes it."""
    position, time = x[:, 0:1], x[:, 1:2]
    return position * time * y + 0.25


IMPORTED = {"deepxde": (1, deepxde_transform, "x_0*y*(1 - x_0)"),
            "pinn": (2, pinn_transform, "x_0*x_1*y*(1 - x_0) + sin(3.141592653589793*x_0)"),
            "sliced": (2, sliced_pinn_transform, "x_0*x_1*y + 0.25")}


@pytest.mark.parametrize("label", sorted(IMPORTED))
def test_torch_forward_transform_becomes_an_output_map(label):
    n_inputs, transform, text = IMPORTED[label]
    module = Transformed(n_inputs, transform).double().eval()
    net = symnet.load(module)
    assert net.outputs[0].output_map == (text,)
    X = np.random.default_rng(2).uniform(0.0, 1.0, (5, n_inputs))
    expected = torch_references(module.body, transform, X)
    for what in WHATS:
        result = compare(symnet.derive(net, what)(X), expected[what])
        assert result.max_rel_error <= 1e-12, (what, result)


def onnx_transform(x, y):
    """pinn_transform with a sin whose constant is exact in float32 (torch's ONNX export
    writes Python scalars such as torch.pi as float32 constants)."""
    return x[..., 0:1] * (1 - x[..., 0:1]) * x[..., 1:2] * y + torch.sin(3 * x[..., 0:1])


def test_onnx_export_of_the_transform_becomes_an_output_map(tmp_path):
    require_module("onnx")
    require_module("onnxscript")
    module = Transformed(2, onnx_transform).double().eval()
    path = tmp_path / "pinn.onnx"
    torch.onnx.export(module, (torch.rand(3, 2, dtype=torch.float64),), str(path), dynamo=True,
                      input_names=["x"], dynamic_shapes=({0: torch.export.Dim("batch")},))
    net = symnet.load(path)
    assert net.outputs[0].output_map == ("x_0*x_1*y*(1 - x_0) + sin(3*x_0)",)
    X = np.random.default_rng(2).uniform(0.0, 1.0, (5, 2))
    expected = torch_references(module.body, onnx_transform, X)
    for what in WHATS:
        result = compare(symnet.derive(net, what)(X), expected[what])
        assert result.max_rel_error <= 1e-12, (what, result)


def test_products_that_are_not_output_maps_stay_refused():
    class TwoNetworks(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = _body(1, seed=1), _body(1, seed=2)

        def forward(self, x):
            return x * self.a(x) + self.b(x)
    with pytest.raises(symnet.UnsupportedError, match="two different network values in an output map"):
        symnet.load(TwoNetworks().double())


#: the derivatives beyond the whole arrays, and their torch.func counterparts from J and H
DIRECTIONAL = {"jvp": lambda J, H, v, w: np.einsum("pik,pk->pi", J, v),
               "vjp": lambda J, H, v, w: np.einsum("pik,pi->pk", J, w),
               "hvp": lambda J, H, v, w: np.einsum("pikm,pm->pik", H, v),
               "laplacian": lambda J, H, v, w: np.trace(H, axis1=2, axis2=3),
               "d2y1_dx1_dx2": lambda J, H, v, w: H[:, 0, 0, 1:2]}


def test_auto_strategy_builds_the_directional_derivatives_of_a_mapped_network_unrolled(case, tmp_path):
    """The layered form maps the whole arrays only: ``auto`` builds jvp ... unrolled, for every
    target (the numpy target's layered threshold included), and the code matches torch.func."""
    from helpers import import_file
    from runners import run_self_checks
    net, X, expected = case
    whats = [what for what in DIRECTIONAL if what != "d2y1_dx1_dx2" or net.n_inputs > 1]
    symnet.generate(net, ["numpy", "python", "c"], tmp_path, derivatives=whats, name="mapped")
    run_self_checks(tmp_path, "mapped")
    module = import_file(tmp_path / "mapped_numpy.py", "mapped_numpy")
    rng = np.random.default_rng(8)
    v, w = rng.uniform(-1, 1, (len(X), net.n_inputs)), rng.uniform(-1, 1, (len(X), net.n_outputs))
    for what in whats:
        extra = {"jvp": (v,), "vjp": (w,), "hvp": (v,)}.get(what, ())
        reference = DIRECTIONAL[what](expected["jacobian"], expected["hessian"], v, w)
        for got in (getattr(module, what)(X, *extra), symnet.derive(net, what)(X, *extra)):
            result = compare(np.asarray(got).reshape(len(X), 1, -1), reference.reshape(len(X), 1, -1))
            assert result.max_rel_error <= 1e-12, (what, result)


def test_layered_strategy_refuses_the_directional_derivatives_of_a_mapped_network(case, tmp_path):
    net, _, _ = case
    with pytest.raises(symnet.errors.UnsupportedError, match="jvp of a network with output maps") as error:
        symnet.generate(net, ["c"], tmp_path, derivatives=["value", "jvp"], strategy="layered")
    assert "\n" not in str(error.value) and "--strategy unrolled or auto" in str(error.value)
