"""Functions of a whole layer beyond softmax: rms_norm (LayerNorm after its centering is
folded into the layer's weights) in every target and both strategies, checked against the
30-digit reference and finite differences; and the layered form of every whole-layer
function (symnet.layered.whole_layer) against the registry's sympy definition."""

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
    X = sample_points(net, 3, seed=5)
    results = build(target, net, tmp_path, DERIVATIVES, strategy=strategy).evaluate_many(DERIVATIVES, X)
    for what in DERIVATIVES:
        assert compare(results[what], reference_values(net, what, X)).max_rel_error <= 1e-10, (target, what)


def test_the_size_limit_advises_the_layered_strategy_for_rms_norm(monkeypatch):
    import symnet
    import symnet.unrolled.size
    from symnet.errors import SizeLimitError
    monkeypatch.setattr(symnet.unrolled.size, "UNROLLED_OPERATION_LIMIT", 10)
    with pytest.raises(SizeLimitError) as error:
        symnet.derive(normed_network(width=40), "jacobian").program
    assert "--strategy layered" in str(error.value) and "--allow-large-unrolled" in str(error.value)


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


# --- the layered form of the whole-layer functions ---------------------------------------

FORM_CASES = [("softmax", ()), ("rms_norm", (("eps", 0.03),))]


def _evaluated_scalars(scalars, bound_per_unit, known=None):
    """{symbol: value} of a form's scalars (sums, maxima, one value) over the units."""
    import sympy as sp
    from symnet.layered.whole_layer import MAX, SUM
    known = dict(known or {})
    for symbol, operator, expression in scalars:
        if operator in (SUM, MAX):
            terms = [float(sp.sympify(expression).xreplace({**bound, **known})) for bound in bound_per_unit]
            known[symbol] = sum(terms) if operator == SUM else max(terms)
        else:
            known[symbol] = float(sp.sympify(expression).xreplace(known))
    return known


@pytest.mark.parametrize("name, params", FORM_CASES)
def test_the_layered_form_states_the_registry_function_and_its_derivatives(name, params):
    """Forward value, J = diag(alpha) + beta gammaᵀ and the derived second-order term of
    each whole-layer form against the registry's sympy definition, differentiated here."""
    import sympy as sp
    from symnet.ir import transfer
    from symnet.layered import whole_layer as w
    size, rng = 4, np.random.default_rng(7)
    ns = sp.symbols(f"n0:{size}", real=True)
    function = sp.Matrix(transfer.lookup(name).expression(list(ns), params))
    jacobian = function.jacobian(ns)
    n, g, gt, tn = (rng.normal(size=size) for _ in range(4))
    at = {symbol: value for symbol, value in zip(ns, n)}
    form = w.whole_layer_form(name, size, params)
    per_unit = [{w.N: value} for value in n]
    known = _evaluated_scalars([(s, o, form.numeric(e)) for s, o, e in form.scalars], per_unit)
    value = np.array([float(form.numeric(form.value).xreplace({w.N: v, **known})) for v in n])
    np.testing.assert_allclose(value, np.array(function.xreplace(at), dtype=float).ravel(), rtol=1e-14)
    auxiliaries = {symbol: float(form.numeric(e).xreplace(known)) for symbol, e in form.auxiliaries}
    units = [{w.N: nu, w.A: au, **auxiliaries} for nu, au in zip(n, value)]

    def per_unit_values(expression, extra=()):
        return np.array([float(form.numeric(expression).xreplace({**unit, **dict(extra[u] if extra else {})}))
                         for u, unit in enumerate(units)])
    alpha, beta, gamma = (per_unit_values(e) for e in (form.alpha, form.beta, form.gamma))
    expected = np.array(jacobian.xreplace(at), dtype=float)
    np.testing.assert_allclose(np.diag(alpha) + np.outer(beta, gamma), expected, rtol=1e-13, atol=1e-14)
    ta = expected @ tn
    # d/dt (Jᵀ(n + t tn) g) + Jᵀ gt, from the registry's expression
    gs = sp.Matrix(g)
    second = (jacobian.T * gs).jacobian(ns) * sp.Matrix(tn)
    reference = np.array(second.xreplace(at), dtype=float).ravel() + expected.T @ gt
    extra = [{w.TANGENT_N: tn[u], w.TANGENT_A: ta[u], w.ADJOINT: g[u], w.ADJOINT_TANGENT: gt[u]} for u in range(size)]
    scalars, expression = w.second_order(form, True)
    bound = [{**unit, **extra[u]} for u, unit in enumerate(units)]
    sums = _evaluated_scalars([(s, o, form.numeric(e)) for s, o, e in scalars], bound)
    derived = np.array([float(form.numeric(expression).xreplace({**unit, **sums})) for unit in bound])
    np.testing.assert_allclose(derived, reference, rtol=1e-12, atol=1e-14)
    for step, source, matrix in ((w.tangent, tn, expected), (w.adjoint, g, expected.T)):
        scalars, expression = step(form)
        bound = [{**unit, w.SOURCE: source[u]} for u, unit in enumerate(units)]
        sums = _evaluated_scalars(scalars, bound)
        got = np.array([float(form.numeric(expression).xreplace({**unit, **sums})) for unit in bound])
        np.testing.assert_allclose(got, matrix @ source, rtol=1e-13, atol=1e-14)


def test_every_whole_layer_transfer_has_a_layered_form():
    from symnet.ir import transfer
    from symnet.layered.network import LAYERED_WHOLE_LAYER
    from symnet.layered.whole_layer import FORMS
    whole = {name for name, entry in transfer.REGISTRY.items() if not entry.elementwise}
    assert set(FORMS) == whole and set(LAYERED_WHOLE_LAYER) == whole
