"""Functions of a whole layer beyond softmax: rms_norm (LayerNorm after its centering is
folded into the layer's weights) in every target, checked against the 30-digit reference
and finite differences; the layered strategy refuses it by name."""

import numpy as np
import pytest

from symnet import Input, Layer, Network, Output
from symnet.reference.finite_differences import compare, finite_difference_hessian, finite_difference_jacobian, sample_points
from symnet.errors import UnsupportedError
from symnet.reference.high_precision import reference_values

from helpers import closed_form
from runners import build, variants

DERIVATIVES = ("value", "jacobian", "hessian")


def normed_network(width=5, eps=1e-2, seed=3):
    """x -> Linear -> rms_norm -> Linear -> tanh -> Linear: an MPC policy's shape."""
    rng = np.random.default_rng(seed)
    return Network([Input("x", 3)], [
        Layer(width, "rms_norm", rng.normal(size=width), [(0, rng.normal(size=(width, 3)))],
              transfer_params=(("eps", eps),)),
        Layer(4, "tansig", rng.normal(size=4), [], [(0, rng.normal(size=(4, width)))]),
        Layer(2, "purelin", rng.normal(size=2), [], [(1, rng.normal(size=(2, 4)))]),
    ], [Output("u", 2)], name="normed")


def test_rms_norm_network_agrees_with_the_reference_and_finite_differences():
    net = normed_network()
    X = sample_points(net, 4, seed=2)
    np.testing.assert_allclose(closed_form(net, "value")(X), net.evaluate(X), rtol=1e-13, atol=1e-13)
    jacobian = closed_form(net, "jacobian")
    hessian = closed_form(net, "hessian")(X)
    for what, computed in (("jacobian", jacobian(X)), ("hessian", hessian)):
        assert compare(computed, reference_values(net, what, X)).max_rel_error <= 1e-12, what
    assert compare(jacobian(X), finite_difference_jacobian(net, X)).max_rel_error <= 1e-6
    fd = finite_difference_hessian(jacobian, net, X)
    assert np.abs(hessian - fd).max() <= 1e-6 * np.abs(fd).max()


def test_a_single_unit_rms_norm_is_not_constant():
    """Unlike softmax, one unit alone still varies: n/sqrt(n^2 + eps)."""
    net = Network([Input("x", 1)], [Layer(1, "rms_norm", [0.2], [(0, np.array([[1.5]]))],
                                          transfer_params=(("eps", 0.1),))], [Output("y", 0)], name="single")
    X = np.array([[-0.7], [0.4]])
    n = 1.5 * X[:, 0] + 0.2
    np.testing.assert_allclose(closed_form(net, "value")(X)[:, 0], n / np.sqrt(n**2 + 0.1), rtol=1e-14)
    np.testing.assert_allclose(closed_form(net, "jacobian")(X)[:, 0, 0], 1.5 * 0.1 / (n**2 + 0.1)**1.5, rtol=1e-13)


@pytest.mark.parametrize("variant", variants(), ids="-".join)
def test_every_target_writes_rms_norm(variant, tmp_path):
    target, strategy = variant
    net = normed_network(width=4)
    if strategy == "layered":
        with pytest.raises(UnsupportedError, match="layered strategy cannot write the whole-layer.*'rms_norm'"):
            build(target, net, tmp_path, DERIVATIVES, strategy=strategy)
        return
    X = sample_points(net, 3, seed=5)
    results = build(target, net, tmp_path, DERIVATIVES, strategy=strategy).evaluate_many(DERIVATIVES, X)
    for what in DERIVATIVES:
        assert compare(results[what], reference_values(net, what, X)).max_rel_error <= 1e-10, (target, what)


def test_the_size_limit_does_not_advise_the_layered_strategy_for_rms_norm(monkeypatch):
    import symnet
    import symnet.unrolled.size
    from symnet.errors import SizeLimitError
    monkeypatch.setattr(symnet.unrolled.size, "UNROLLED_OPERATION_LIMIT", 10)
    with pytest.raises(SizeLimitError) as error:
        symnet.derive(normed_network(width=40), "jacobian").program
    assert "layered" not in str(error.value) and "--allow-large-unrolled" in str(error.value)


def test_the_latex_document_states_rms_norm_and_compiles(tmp_path):
    """The index form of rms_norm (r and its derivatives) with its eps, through pdflatex."""
    built = build("latex", normed_network(width=3, eps=0.015625), tmp_path, DERIVATIVES)
    built.check()
    text = "".join(path.read_text() for path in built.paths if str(path).endswith(".tex"))
    assert r"r^{(1)} = \sqrt{\tfrac{1}{3}" in text and "0.015625" in text


def test_torch_rms_norm_without_eps_is_refused_by_name():
    """PyTorch then divides by the machine epsilon of the input's dtype, which tracing does not fix."""
    import symnet
    from helpers import require_module
    torch = require_module("torch")
    module = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.RMSNorm(3)).double()
    with pytest.raises(UnsupportedError, match=r"\(RMSNorm\): RMSNorm without eps .* give eps explicitly"):
        symnet.load(module, input_size=2)
