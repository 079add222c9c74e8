"""Partial derivatives of order 3 and 4 in the layered form (forward Taylor "jets",
symnet.layered.directional): against torch.func's nested jacfwd on random torch MLPs with
every smooth transfer function, against the unrolled closed form on random networks with
normalization, cascades and several outputs, by running the generated C (strict flags),
NumPy, Python and MATLAB (Octave) with their self-checks; determinism; the one-line
refusals for a whole-layer function and for order 5."""


import numpy as np
import pytest

import symnet
from symnet.errors import UnsupportedError
from symnet.layered.schedule import layered_program
from symnet.layered.network import layered_network
from symnet.reference.finite_differences import sample_points

from helpers import SMOOTH_TRANSFERS, closed_form, import_file, random_network, require_module
from runners import assert_passed, octave_self_check, run_self_checks
from test_derivative_spec import _square_network

#: partials of order 3 and 4 of a 3-input, 2-output network, as asked and as indices (0-based)
PARTIALS = (("d3y1/dx1^3", 0, (0, 0, 0)), ("d3y2/dx1dx2dx3", 1, (0, 1, 2)), ("d3y1/dx2^2dx3", 0, (1, 1, 2)),
            ("d4y2/dx1^4", 1, (0, 0, 0, 0)), ("d4y1/dx1dx2^2dx3", 0, (0, 1, 1, 2)),
            ("d4y2/dx1^2dx3^2", 1, (0, 0, 2, 2)), ("d4y1/dx1dx2dx3dx1", 0, (0, 0, 1, 2)))


def _torch_activations():
    torch = require_module("torch")
    nn = torch.nn
    return {"tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(), "softplus": nn.Softplus(beta=1.5), "silu": nn.SiLU(),
            "elu": nn.ELU(alpha=0.75), "celu": nn.CELU(alpha=1.25), "selu": nn.SELU(), "gelu": nn.GELU(),
            "gelu_tanh": nn.GELU(approximate="tanh"), "mish": nn.Mish(), "log_sigmoid": nn.LogSigmoid(),
            "tanhshrink": nn.Tanhshrink(), "identity": nn.Identity()}


@pytest.mark.parametrize("activation", sorted(["tanh", "sigmoid", "softplus", "silu", "elu", "celu", "selu", "gelu",
                                               "gelu_tanh", "mish", "log_sigmoid", "tanhshrink", "identity"]))
def test_third_and_fourth_partials_match_torch_func_nested_jacfwd(activation):
    torch = require_module("torch")
    torch.manual_seed(sum(map(ord, activation)))
    act = _torch_activations()[activation]
    module = torch.nn.Sequential(torch.nn.Linear(3, 6), act, torch.nn.Linear(6, 5), act,
                                 torch.nn.Linear(5, 2)).double()
    net = symnet.load(module)
    X = np.random.default_rng(2).uniform(-1.5, 1.5, (3, 3))
    f = torch.func.jacfwd
    fourth = torch.stack([f(f(f(f(module))))(torch.tensor(x)) for x in X]).detach().numpy()
    third = torch.stack([f(f(f(module)))(torch.tensor(x)) for x in X]).detach().numpy()
    for name, output, inputs in PARTIALS:
        expected = (third if len(inputs) == 3 else fourth)[(slice(None), output) + inputs]
        got = symnet.derive(net, name)(X)[:, 0]
        scale = max(1.0, float(np.max(np.abs(expected))))
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11 * scale, err_msg=f"{activation} {name}")


@pytest.mark.parametrize("seed", range(5))
def test_jets_match_the_unrolled_closed_form_of_random_networks(seed):
    """Normalization folded into the weights, cascade links, outputs of hidden layers."""
    net = random_network(seed, transfers=SMOOTH_TRANSFERS, max_width=4, cascade=seed % 2 == 0)
    X = sample_points(net, 3, seed=seed)
    last, n = net.n_outputs, net.n_inputs
    for name in ("d3y1/dx1^3", f"d3y{last}/dx1dx{n}^2", f"d4y1/dx1^2dx{n}^2", f"d4y{last}/dx{n}dx1^3"):
        got = symnet.derive(net, name)(X)
        np.testing.assert_allclose(got, closed_form(net, name)(X), rtol=1e-9, atol=1e-12, err_msg=name)


def test_a_third_partial_matches_central_differences_of_the_layered_second():
    net = _square_network()
    X = sample_points(net, 4, seed=3)
    step = 1e-4
    e = np.zeros(net.n_inputs)
    e[1] = step
    second = symnet.derive(net, "d2y2/dx1dx3")
    by_differences = (second(X + e) - second(X - e)) / (2 * step)
    np.testing.assert_allclose(symnet.derive(net, "d3y2/dx1dx2dx3")(X), by_differences, rtol=1e-6, atol=1e-8)


JET_KINDS = ["d3y1/dx1^2dx2", "d4y3/dx1dx2dx3^2", "d3y2/dx3^3"]


def test_generated_c_numpy_python_pass_their_self_checks_and_agree(tmp_path):
    net = _square_network()
    symnet.generate(net, ["c", "numpy", "python"], tmp_path, derivatives=JET_KINDS, name="sq", strategy="layered")
    source = (tmp_path / "sq.c").read_text()
    assert "ja2_1_1_2" in source   # the jets, not an unrolled closed form
    run_self_checks(tmp_path, "sq")
    module = import_file(tmp_path / "sq_numpy.py", "sq_jets_numpy")
    X = sample_points(net, 3, seed=9)
    for name in JET_KINDS:
        canonical = symnet.derive(net, name).what
        np.testing.assert_allclose(getattr(module, canonical)(X), closed_form(net, name)(X), rtol=1e-10,
                                   atol=1e-12)


def test_generated_matlab_passes_its_self_check_in_octave(tmp_path):
    symnet.generate(_square_network(), ["matlab"], tmp_path, derivatives=JET_KINDS, name="sq", strategy="layered")
    assert_passed(octave_self_check(tmp_path, "sq"))


def test_jet_programs_are_deterministic():
    net = layered_network(_square_network())
    first, second = (repr(layered_program(net, "d4y3_dx1_dx2_dx3_dx3")) for _ in range(2))
    assert first == second


def test_order_five_and_a_whole_layer_function_are_refused_in_one_line(tmp_path):
    square = _square_network()
    with pytest.raises(UnsupportedError, match="up to order 4 of this network"):
        symnet.generate(square, ["c"], tmp_path, derivatives=["d5y1/dx1^5"], strategy="layered")
    from symnet.ir.network import Input, Layer, Network, Output
    rng = np.random.default_rng(1)
    softmax = Network([Input("x", 2)], [Layer(3, "tansig", rng.normal(size=3), [(0, rng.normal(size=(3, 2)))]),
                                        Layer(2, "softmax", rng.normal(size=2), [], [(0, rng.normal(size=(2, 3)))])],
                      [Output("y", 1)], name="soft")
    with pytest.raises(UnsupportedError, match="up to order 2 of this network"):
        symnet.generate(softmax, ["c"], tmp_path, derivatives=["d3y1/dx1^3"], strategy="layered")
