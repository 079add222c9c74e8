"""The layered form of the pure-Python target: generated modules imported and
run one point per call on random networks (every transfer function, softmax,
cascade links, several inputs and outputs, removed constant rows, forward and
reverse accumulation), against the direct numeric evaluation and the
unrolled closed form, central differences of the module's own functions, the
unrolled Python module and the layered NumPy module; its self-check; the
standard library's ``math`` and ``operator`` as its only imports; deterministic output."""

import ast
import math

import numpy as np
import pytest

import symnet
from symnet import Input, Layer, Network, Output
from symnet.reference.finite_differences import compare, finite_difference_hessian
from symnet.layered.network import layered_network

import runners
from helpers import closed_form, ALL_TRANSFERS, SMOOTH_TRANSFERS, import_file, points_for, random_network
from test_layered import assert_close, mlp

SEEDS = range(12)
FUNCTIONS = {"value": "evaluate", "gradient": "gradient", "jacobian": "jacobian", "hessian": "hessian"}


def derivatives_of(net):
    return ("value",) + (("gradient",) if net.n_outputs == 1 else ()) + ("jacobian", "hessian")


def generate_module(net, folder, strategy="layered", target="python", derivatives=None, name="model"):
    derivatives = derivatives or derivatives_of(net)
    symnet.generate(net, [target], folder, derivatives=derivatives, name=name, strategy=strategy)
    file_name = f"{name}.py" if target == "python" else f"{name}_{target}.py"
    return import_file(folder / file_name, f"{name}_{target}_{strategy}_{abs(hash(str(folder)))}")


def run(module, what, X):
    """The module's ``what`` at every point of X, one point (a list of floats) per call;
    every entry of the nested lists returned must be a float."""
    function = getattr(module, FUNCTIONS[what])
    results = [function([float(v) for v in x]) for x in np.asarray(X, dtype=float)]
    assert all(_all_floats(result) for result in results), what
    return np.array(results, dtype=float)


def _all_floats(value):
    if isinstance(value, list):
        return all(_all_floats(item) for item in value)
    return type(value) is float


def central_differences(module, what, net, X):
    """d/dx of the module's ``what`` by central differences (Richardson-extrapolated, the
    step symnet.reference.finite_differences takes for the Hessian from an exact Jacobian)."""
    return finite_difference_hessian(lambda P: run(module, what, P), net, X)


def smooth(net):
    return all(layer.transfer in SMOOTH_TRANSFERS + ("softmax",) for layer in net.layers)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_networks_match_the_references_and_the_other_forms(seed, tmp_path):
    net = random_network(seed, transfers=ALL_TRANSFERS)
    layered = generate_module(net, tmp_path / "layered")
    unrolled = generate_module(net, tmp_path / "unrolled", strategy="unrolled")
    numpy_layered = generate_module(net, tmp_path / "numpy", target="numpy")
    X = points_for(net, count=3, seed=seed)
    for what in derivatives_of(net):
        got, reference = run(layered, what, X), closed_form(net, what)(X)
        assert got.shape == reference.shape
        assert_close(got, reference)
        assert_close(got, run(unrolled, what, X))
        assert_close(got, getattr(numpy_layered, FUNCTIONS[what])(X))
    assert_close(run(layered, "value", X), net.evaluate(X))
    if smooth(net):
        fd_jacobian = central_differences(layered, "value", net, X)
        assert compare(run(layered, "jacobian", X), fd_jacobian).max_rel_error < 1e-6
        fd_hessian = central_differences(layered, "jacobian", net, X)
        assert compare(run(layered, "hessian", X), fd_hessian).max_rel_error < 1e-6


def test_the_random_networks_cover_what_the_layered_form_handles():
    nets = [random_network(seed, transfers=ALL_TRANSFERS) for seed in SEEDS]
    assert {layered_network(net).jacobian_mode for net in nets} == {"forward", "reverse"}
    assert any(len(net.outputs) > 1 for net in nets)
    assert any(net.n_outputs == 1 for net in nets)
    assert any(len(net.inputs) > 1 for net in nets)
    assert any(layer.input_weights and index > 0 for net in nets for index, layer in enumerate(net.layers))
    assert any(len(layer.layer_weights) > 1 for net in nets for layer in net.layers)
    assert any(layered_network(net).constant_rows for net in nets)
    assert any(step.kind == "removeconstantrows" for net in nets for inp in net.inputs for step in inp.steps)
    assert any(smooth(net) for net in nets)
    transfers = {layer.transfer for net in nets for layer in net.layers}
    assert {"softmax", "poslin", "satlin", "tansig"} <= transfers


@pytest.mark.parametrize("sizes", [(2, 6, 5, 4), (5, 6, 5, 1), (3, 4, 3)])
def test_forward_and_reverse_accumulation(sizes, tmp_path):
    net = mlp(sizes)
    assert layered_network(net).jacobian_mode == ("forward" if sizes[0] <= sizes[-1] else "reverse")
    module = generate_module(net, tmp_path)
    X = points_for(net, count=4)
    for what in derivatives_of(net):
        assert_close(run(module, what, X), closed_form(net, what)(X))
    fd_hessian = central_differences(module, "jacobian", net, X)
    assert compare(run(module, "hessian", X), fd_hessian).max_rel_error < 1e-6


def softmax_network():
    """Softmax in a hidden layer (read by a later layer and by an output) and at the end."""
    rng = np.random.default_rng(3)
    layers = [Layer(3, "softmax", rng.normal(size=3), [(0, rng.normal(size=(3, 3)))]),
              Layer(3, "tansig", rng.normal(size=3), [(0, rng.normal(size=(3, 3)))], [(0, rng.normal(size=(3, 3)))]),
              Layer(2, "softmax", rng.normal(size=2), layer_weights=[(1, rng.normal(size=(2, 3)))])]
    return Network([Input("x", 3)], layers, [Output("p", 2), Output("h", 0)], name="soft")


@pytest.mark.parametrize("outputs", [2, 1])
def test_softmax_layers_in_both_accumulation_directions(outputs, tmp_path):
    net = softmax_network()
    if outputs == 1:
        net = Network(net.inputs, net.layers, net.outputs[:1], name="soft1")
    mode = layered_network(net).jacobian_mode
    assert mode == ("forward" if outputs == 2 else "reverse")
    module = generate_module(net, tmp_path)
    X = points_for(net, count=4)
    for what in derivatives_of(net):
        assert_close(run(module, what, X), closed_form(net, what)(X))
    fd_jacobian = central_differences(module, "value", net, X)
    assert compare(run(module, "jacobian", X), fd_jacobian).max_rel_error < 1e-6


def test_the_self_check_passes(tmp_path):
    net = random_network(4, transfers=ALL_TRANSFERS)
    generate_module(net, tmp_path, name="checked")
    text = (tmp_path / "checked.py").read_text()
    assert "Layered form" in text and "def dot(" in text
    runners.assert_passed(runners.python_self_check(tmp_path, "checked_check.py"))


def test_the_only_imports_are_math_and_operator(tmp_path):
    net = softmax_network()
    generate_module(net, tmp_path)
    tree = ast.parse((tmp_path / "model.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
        elif isinstance(node, ast.Name):
            assert node.id not in ("__import__", "eval", "exec", "open"), node.id
    assert imported == {"math", "operator"}


def test_math_sumprod_is_used_where_python_has_it(tmp_path, monkeypatch):
    """From Python 3.12 math.sumprod computes the dot products; a stand-in (exactly rounded,
    as fsum) shows the module takes it when present and that the results agree."""
    net = mlp((5, 6, 5, 2))
    X = points_for(net, count=3)
    plain = generate_module(net, tmp_path / "plain")
    calls = []

    def sumprod(p, q):
        calls.append(1)
        return math.fsum(w * v for w, v in zip(p, q))

    monkeypatch.setattr(math, "sumprod", sumprod, raising=False)
    fast = generate_module(net, tmp_path / "fast")
    assert fast.dot is sumprod
    for what in ("value", "jacobian", "hessian"):
        assert_close(run(fast, what, X), run(plain, what, X))
    assert calls


def test_hostile_names_reach_only_comments(tmp_path):
    bad = "x\"\"\"; import os; os.system('echo pwned') #\n\\ {{ }} '''"
    net = mlp((3, 4, 2))
    hostile = Network([Input(bad, 3, net.inputs[0].steps)], [Layer(4, "tansig", net.layers[0].bias,
                                                                    net.layers[0].input_weights, name=bad),
                                                              net.layers[1]],
                      [Output(bad, 1, net.outputs[0].steps)], name=bad)
    symnet.generate(hostile, ["python"], tmp_path, derivatives=("value", "jacobian"), strategy="layered")
    files = sorted(tmp_path.glob("*.py"))
    assert len(files) == 2
    module_file = next(path for path in files if not path.name.endswith("_check.py"))
    text = module_file.read_text()
    code = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in code if "pwned" in line or "system" in line or "os." in line]
    tree = ast.parse(text)
    assert [node.names[0].name for node in ast.walk(tree) if isinstance(node, ast.Import)] == ["math", "operator"]
    module = import_file(module_file, "hostile_python_layered")
    plain = generate_module(net, tmp_path / "plain")
    X = points_for(net, count=3)
    for what in ("value", "jacobian"):
        np.testing.assert_array_equal(run(module, what, X), run(plain, what, X))


def test_generation_is_byte_identical(tmp_path):
    net = random_network(2, transfers=ALL_TRANSFERS)
    texts = []
    for folder in ("a", "b"):
        symnet.generate(net, ["python"], tmp_path / folder, derivatives=derivatives_of(net), strategy="layered",
                        name="same")
        texts.append((tmp_path / folder / "same.py").read_bytes())
    assert texts[0] == texts[1]


def test_auto_uses_the_layered_form_from_the_threshold_on(tmp_path):
    small, big = mlp((3, 4, 2)), mlp((4, 16, 16, 2))
    symnet.generate(small, ["python"], tmp_path / "small", name="m")
    symnet.generate(big, ["python"], tmp_path / "big", name="m")
    assert "Layered form" not in (tmp_path / "small" / "m.py").read_text()
    assert "Layered form" in (tmp_path / "big" / "m.py").read_text()


def test_a_constant_jacobian_is_returned_as_fresh_lists(tmp_path):
    """A linear network: the Jacobian is a module constant; each call returns its own lists."""
    weights = [[1.0, 2.0], [0.5, -1.0], [3.0, 0.25]]
    net = Network([Input("x", 2)], [Layer(3, "purelin", [0.1, 0.2, 0.3], [(0, weights)])], [Output("y", 0)],
                  name="linear")
    module = generate_module(net, tmp_path)
    first = module.jacobian([0.5, 1.0])
    first[0][0] = 99.0
    assert module.jacobian([2.0, -1.0]) == [[1.0, 2.0], [0.5, -1.0], [3.0, 0.25]]
    assert module.hessian([2.0, -1.0]) == [[[0.0, 0.0], [0.0, 0.0]]] * 3
