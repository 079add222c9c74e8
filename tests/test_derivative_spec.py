"""The derivative spec (symnet.ir.derivative_spec): its grammar and refusals, and every
derivative beyond the whole arrays (JVP, VJP, HVP, Laplacian, divergence, named partials)
against central finite differences of the Jacobian and Hessian, against torch.func in
float64, and through the generated code's own self-checks."""

import numpy as np
import pytest

import symnet
from helpers import import_file, random_network, require_module
from symnet.errors import UnsupportedError
from symnet.ir.derivative_spec import parse_derivative, parse_derivatives, spec_of
from symnet.reference.finite_differences import (compare, finite_difference_hessian, finite_difference_jacobian,
                                                 sample_points)

SMOOTH = ("tansig", "logsig", "purelin", "softplus", "swish", "elu", "softmax")
SEEDS = range(6)


def _square_network(n_outputs=3):
    """Inputs x, y, t (one number each, normalized), tanh and logsig layers, ``n_outputs``
    outputs (3: a divergence exists; 1: named u)."""
    rng = np.random.default_rng(7)
    from symnet.ir.network import Input, Layer, MapMinMax, Network, Output
    inputs = [Input(name, 1, (MapMinMax([-2.0], [0.7], [-1.0]),)) for name in ("x", "y", "t")]
    layers = [Layer(6, "tansig", rng.normal(size=6), [(k, rng.normal(size=(6, 1))) for k in range(3)]),
              Layer(6, "logsig", rng.normal(size=6), [], [(0, rng.normal(size=(6, 6)))]),
              Layer(n_outputs, "purelin", rng.normal(size=n_outputs), [], [(1, rng.normal(size=(n_outputs, 6)))])]
    return Network(inputs, layers, [Output("u", 2)], name=f"square{n_outputs}")


@pytest.fixture(scope="module")
def square():
    return _square_network()


# --- the grammar -----------------------------------------------------------------------------

def test_names_parse_to_canonical_specs(square):
    assert parse_derivatives("value, jvp,vjp,hvp,laplacian,divergence", square) == (
        "value", "jvp", "vjp", "hvp", "laplacian", "divergence")
    assert parse_derivative("d2y1/dx1dx2", square).name == "d2y1_dx1_dx2"
    assert parse_derivative("d2y1/dx2dx1", square).name == "d2y1_dx1_dx2"   # the same partial
    assert parse_derivative("d3y2/dx1^2dx3", square).inputs == (0, 0, 2)
    assert parse_derivative("dy3/dx2", square).name == "d1y3_dx2"
    assert parse_derivative("d2y2/dxdt", square) == spec_of("d2y2_dx1_dx3")   # the model's input names
    assert parse_derivative("d2y1/dt^2", square) == spec_of("d2y1_dx3_dx3")


def test_the_model_names_its_single_output():
    net = _square_network(1)
    assert parse_derivative("d2u/dxdy", net) == spec_of("d2y1_dx1_dx2")
    assert parse_derivative("d2y/dxdy", net) == spec_of("d2y1_dx1_dx2")

def test_y_alone_names_the_single_output():
    net = random_network(1, transfers=SMOOTH)
    assert net.n_outputs == 1
    assert parse_derivative("d2y/dx1dx2", net).output == 0


@pytest.mark.parametrize("text, problem", [
    ("jacobean", "unknown derivative 'jacobean'"),
    ("d0y1/dx1", "order 0"),
    ("d2y1/dx1^0dx2", "order 0"),
    ("d2y4/dx1dx2", "unknown output 'y4'"),
    ("d2y1/dx1dx4", "unknown input"),
    ("d2y1/dx1", "the order 2 does not match the 1 differentiations"),
    ("gradient", "the gradient needs a single-output network"),
])
def test_grammar_errors_are_one_line(square, text, problem):
    with pytest.raises(UnsupportedError) as error:
        parse_derivative(text, square)
    assert problem in str(error.value)
    assert "\n" not in str(error.value)


def test_divergence_needs_as_many_outputs_as_inputs():
    net = random_network(0, transfers=SMOOTH)
    assert net.n_outputs != net.n_inputs
    with pytest.raises(UnsupportedError, match="as many outputs as inputs"):
        symnet.derive(net, "divergence")


def test_canonical_partial_out_of_range_is_refused(square):
    with pytest.raises(UnsupportedError, match="input x5 is out of range"):
        symnet.derive(square, "d2y1_dx1_dx5")


def test_extra_arguments_are_checked(square):
    X = sample_points(square, 2)
    with pytest.raises(UnsupportedError, match="takes X and 1 more"):
        symnet.derive(square, "jvp")(X)
    with pytest.raises(symnet.errors.ModelFormatError, match="expected V of shape"):
        symnet.derive(square, "jvp")(X, np.ones((2, 2)))


def test_order_five_is_refused_by_the_layered_strategy_by_name(square, tmp_path):
    with pytest.raises(UnsupportedError, match="up to order 4"):
        symnet.generate(square, ["c"], tmp_path, derivatives=["d5y1/dx1^4dx2"], strategy="layered")


def test_targets_with_fixed_functions_refuse_the_derivatives_of_the_spec(square, tmp_path):
    with pytest.raises(UnsupportedError, match="the fmu target does not print laplacian"):
        symnet.generate(square, ["fmu"], tmp_path, derivatives=["laplacian"])
    with pytest.raises(UnsupportedError, match="the casadi target does not print jvp"):
        symnet.generate(square, ["casadi"], tmp_path, derivatives=["value", "jvp"])


# --- numbers ---------------------------------------------------------------------------------

def _nets():
    return [_square_network()] + [random_network(seed, transfers=SMOOTH) for seed in SEEDS]


def _fd_references(net, X):
    """Jacobian and Hessian by central differences of the network's direct evaluation."""
    jacobian = finite_difference_jacobian(net, X)
    hessian = finite_difference_hessian(symnet.derive(net, "jacobian"), net, X)
    return jacobian, hessian


def _directions(net, count):
    rng = np.random.default_rng(3)
    return rng.uniform(-1, 1, (count, net.n_inputs)), rng.uniform(-1, 1, (count, net.n_outputs))


@pytest.mark.parametrize("net", _nets(), ids=lambda net: net.name)
def test_directional_derivatives_match_finite_differences(net):
    X = sample_points(net, 4, seed=2)
    J, H = _fd_references(net, X)
    V, W = _directions(net, len(X))
    expected = {"jvp": np.einsum("pik,pk->pi", J, V), "vjp": np.einsum("pik,pi->pk", J, W),
                "hvp": np.einsum("pikm,pm->pik", H, V), "laplacian": np.einsum("pikk->pi", H)}
    arguments = {"jvp": (V,), "vjp": (W,), "hvp": (V,), "laplacian": ()}
    if net.n_inputs == net.n_outputs:
        expected["divergence"] = np.einsum("pkk->p", J)[:, None]
        arguments["divergence"] = ()
    for what, reference in expected.items():
        got = symnet.derive(net, what)(X, *arguments[what])
        assert got.shape == reference.shape, what
        result = compare(got, reference)
        assert result.max_rel_error <= 1e-5, (what, result)


@pytest.mark.parametrize("net", _nets()[:4], ids=lambda net: net.name)
def test_named_partials_match_finite_differences(net):
    X = sample_points(net, 3, seed=4)
    J, H = _fd_references(net, X)
    for i in range(net.n_outputs):
        for k in range(net.n_inputs):
            got = symnet.derive(net, f"dy{i + 1}/dx{k + 1}")(X)
            assert compare(got, J[:, i, k:k + 1]).max_rel_error <= 1e-5, (i, k)
            for m in range(k, net.n_inputs):
                got = symnet.derive(net, f"d2y{i + 1}/dx{k + 1}dx{m + 1}")(X)
                assert compare(got, H[:, i, k, m:m + 1]).max_rel_error <= 1e-5, (i, k, m)


def test_directional_derivatives_match_torch_func():
    torch = require_module("torch")
    import torch_models
    module = torch_models.build("tanh_sigmoid")
    net = symnet.load(module)
    X = torch_models.sample_inputs(4)
    V, W = (torch.tensor(a) for a in _directions(net, len(X)))
    jvp = torch.stack([torch.func.jvp(module, (x,), (v,))[1] for x, v in zip(X, V)])
    vjp = torch.stack([torch.func.vjp(module, x)[1](w)[0] for x, w in zip(X, W)])
    hessians = torch.stack([torch.func.jacfwd(torch.func.jacfwd(module))(x) for x in X])
    hvp = torch.einsum("pikm,pm->pik", hessians, V)
    laplacian = torch.einsum("pikk->pi", hessians)
    Xn, Vn, Wn = X.numpy(), V.numpy(), W.numpy()
    for what, arguments, expected in [("jvp", (Vn,), jvp), ("vjp", (Wn,), vjp), ("hvp", (Vn,), hvp),
                                      ("laplacian", (), laplacian),
                                      ("d2y2/dx1dx3", (), hessians[:, 1, 0, 2:3])]:
        result = compare(symnet.derive(net, what)(Xn, *arguments), expected.detach().numpy())
        assert result.max_rel_error <= 1e-10, (what, result)


# --- generated code --------------------------------------------------------------------------

ALL_KINDS = ["value", "jvp", "vjp", "hvp", "laplacian", "divergence", "d2y1/dx1dx2", "dy2/dx3", "d2y3/dx3^2"]


def test_generated_numpy_and_python_pass_their_self_checks_and_match_the_api(square, tmp_path):
    from runners import assert_passed, python_self_check
    symnet.generate(square, ["numpy", "python"], tmp_path, derivatives=ALL_KINDS, name="sq")
    for script in ("sq_numpy_check.py", "sq_check.py"):
        assert_passed(python_self_check(tmp_path, script))
    module = import_file(tmp_path / "sq_numpy.py", "sq_numpy")
    single = import_file(tmp_path / "sq.py", "sq")
    X = sample_points(square, 3, seed=5)
    V, W = _directions(square, len(X))
    for name, arguments in [("jvp", (V,)), ("vjp", (W,)), ("hvp", (V,)), ("laplacian", ()), ("divergence", ()),
                            ("d2y1_dx1_dx2", ())]:
        expected = symnet.derive(square, name)(X, *arguments)
        assert np.allclose(getattr(module, name)(X, *arguments), expected, rtol=1e-13, atol=1e-13), name
        for p in range(len(X)):
            got = np.array(getattr(single, name)(list(X[p]), *[list(a[p]) for a in arguments]))
            assert np.allclose(got, expected[p], rtol=1e-13, atol=1e-13), (name, p)


def test_self_check_vectors_cover_the_directional_derivatives(square):
    from symnet.emit import GenerationRequest
    from symnet.emit.selfcheck import check_vectors
    request = GenerationRequest(square, "sq", (), (), derivatives=tuple(parse_derivatives(ALL_KINDS, square)))
    vectors = check_vectors(request)
    blocks = {block.what: block for block in vectors.blocks}
    J = symnet.derive(square, "jacobian")(vectors.points)
    (_, v), = blocks["jvp"].arguments
    assert np.allclose(blocks["jvp"].expected, np.einsum("pik,pk->pi", J, v), rtol=1e-12, atol=1e-14)
    assert blocks["vjp"].arguments[0][0] == "w"
    assert blocks["divergence"].expected.shape == (vectors.point_count, 1)


@pytest.mark.parametrize("precision", ["double", "float"])
def test_generated_c_passes_its_self_check_single_point_and_batch(square, tmp_path, precision):
    from runners import assert_passed, c_self_check
    symnet.generate(square, ["c"], tmp_path, derivatives=ALL_KINDS, name="sq", precision=precision)
    assert_passed(c_self_check(tmp_path, "sq"))
    header = (tmp_path / "sq.h").read_text()
    assert "void sq_jvp(const double *x, const double *v, double *jv);" in header.replace("float", "double")
    assert "void sq_vjp(const double *x, const double *w, double *vj);" in header.replace("float", "double")


def _wide_network(widths=(3, 40, 40, 3), transfers=("tansig", "softplus", "purelin")):
    """A network wide enough for the C target's register tiles and blocks of points."""
    from symnet.ir.network import Input, Layer, Network, Output
    rng = np.random.default_rng(11)
    layers = []
    for index, (size, transfer) in enumerate(zip(widths[1:], transfers)):
        weights = rng.normal(scale=1.0 / np.sqrt(widths[index]), size=(size, widths[index]))
        layers.append(Layer(size, transfer, rng.normal(scale=0.3, size=size),
                            [(0, weights)] if index == 0 else [], [] if index == 0 else [(index - 1, weights)]))
    return Network([Input("x", widths[0])], layers, [Output("y", len(layers) - 1)], name="wide")


def test_generated_c_of_a_wide_network_passes_its_self_check(tmp_path):
    from runners import assert_passed, c_self_check
    symnet.generate(_wide_network(), ["c"], tmp_path, derivatives=ALL_KINDS, name="wide")
    assert_passed(c_self_check(tmp_path, "wide"))


@pytest.mark.parametrize("net", [_square_network(), _wide_network()], ids=lambda net: net.name)
def test_generated_matlab_passes_its_self_check_in_octave(net, tmp_path):
    from runners import assert_passed, octave_self_check
    symnet.generate(net, ["matlab"], tmp_path, derivatives=ALL_KINDS, name="m")
    assert_passed(octave_self_check(tmp_path, "m"), checks=250)



# --- the unrolled strategy -------------------------------------------------------------------

UNROLLED_KINDS = ["value", "jvp", "vjp", "hvp", "laplacian", "divergence", "dy2/dx3", "d2y1/dx1dx2",
                  "d3y1/dx1^2dx2", "d4y3/dx1dx2dx3^2"]


@pytest.mark.parametrize("net", _nets()[:3], ids=lambda net: net.name)
def test_closed_forms_match_the_layered_form_and_finite_differences(net):
    from helpers import closed_form
    X = sample_points(net, 3, seed=6)
    J, H = _fd_references(net, X)
    V, W = _directions(net, len(X))
    for what, arguments in [("laplacian", ()), ("dy1/dx1", ()), ("d2y1/dx1^2", ()), ("jvp", (V,)), ("vjp", (W,)),
                            ("hvp", (V,))]:
        name = parse_derivative(what, net).name
        assert np.allclose(closed_form(net, name)(X, *arguments), symnet.derive(net, what)(X, *arguments),
                           rtol=1e-12, atol=1e-12), what
    assert compare(closed_form(net, "laplacian")(X), np.einsum("pikk->pi", H)).max_rel_error <= 1e-5
    # third order: against mpmath's central differences of the 30-digit Hessian
    from symnet.reference.directional import reference_values_with
    third = reference_values_with(net, ["d3y1_dx1_dx1_dx1"], X, {})["d3y1_dx1_dx1_dx1"]
    assert compare(symnet.derive(net, "d3y1/dx1^3")(X), third).max_rel_error <= 1e-9


def test_unrolled_targets_print_laplacian_divergence_and_partials_of_any_order(square, tmp_path):
    from helpers import require_tool
    from runners import _run, assert_passed, c_self_check, octave_self_check, python_self_check
    pdflatex = require_tool("pdflatex")
    symnet.generate(square, ["c", "python", "numpy", "matlab", "latex"], tmp_path, derivatives=UNROLLED_KINDS,
                    name="sq", strategy="unrolled")
    for run in (c_self_check(tmp_path, "sq"), python_self_check(tmp_path, "sq_check.py"),
                python_self_check(tmp_path, "sq_numpy_check.py"), octave_self_check(tmp_path, "sq")):
        assert_passed(run)
    latex = _run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "sq.tex"], tmp_path)
    assert latex.returncode == 0, latex.stdout[-3000:]
    equations = (tmp_path / "sq_equations.tex").read_text()
    assert r"partial derivative $\partial^{4} y_{3} / \partial x_{1}\, \partial x_{2}\, \partial x_{3}^{2}$" \
        in equations


def test_auto_strategy_picks_the_layered_form_for_a_third_partial_of_a_large_network(tmp_path):
    net = _wide_network()
    # estimated at 64,000 operations, over the size limit (42,000 measured): built on purpose
    paths = symnet.generate(net, ["python"], tmp_path, derivatives=["d3y1/dx1dx2dx3"], name="w",
                            allow_large_unrolled=True)
    assert "d3y1_dx1_dx2_dx3" in paths[0].read_text()
    assert "Layered form" in paths[0].read_text()


@pytest.mark.parametrize("seed", range(6, 30))
def test_random_networks_agree_with_their_jacobian_and_hessian(seed):
    """Cascades, several output blocks, removed constant rows, softmax layers: every
    directional derivative is the contraction of the whole arrays (tested on their own)."""
    from helpers import SMOOTH_TRANSFERS
    net = random_network(seed, transfers=SMOOTH_TRANSFERS + ("softmax",))
    X = sample_points(net, 3, seed=1)
    J, H = symnet.derive(net, "jacobian")(X), symnet.derive(net, "hessian")(X)
    V, W = _directions(net, len(X))
    pairs = [(symnet.derive(net, "jvp")(X, V), np.einsum("pik,pk->pi", J, V)),
             (symnet.derive(net, "vjp")(X, W), np.einsum("pik,pi->pk", J, W)),
             (symnet.derive(net, "hvp")(X, V), np.einsum("pikm,pm->pik", H, V)),
             (symnet.derive(net, "laplacian")(X), np.einsum("pikk->pi", H))]
    i, k, m = net.n_outputs - 1, 0, net.n_inputs - 1
    pairs += [(symnet.derive(net, f"d2y{i + 1}/dx{k + 1}dx{m + 1}")(X)[:, 0], H[:, i, k, m]),
              (symnet.derive(net, f"dy{i + 1}/dx{m + 1}")(X)[:, 0], J[:, i, m])]
    if net.n_inputs == net.n_outputs:
        pairs.append((symnet.derive(net, "divergence")(X), np.einsum("pkk->p", J)[:, None]))
    for got, expected in pairs:
        assert np.allclose(got, expected, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(expected).max()))
