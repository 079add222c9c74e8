"""The unrolled form's size, predicted from the network's shape, and the refusal
of one too large: before anything is built, with the estimate, the bound and the
layered strategy named, unless the caller insists."""

import dataclasses

import numpy as np
import pytest

import symnet
import symnet.api
import symnet.unrolled.size as unrolled_size
from symnet import Input, Layer, MapMinMax, Network, Output, cli
from symnet.unrolled.derive import derivative_program
from symnet.emit import GenerationRequest, get_target
from symnet.emit.latex import render as latex_target
from symnet.errors import SizeLimitError
from symnet.importers.json_format import save_json
from symnet.unrolled.simplify import simplify
from symnet.unrolled.symbolic import forward_program

from conftest import REPO
from helpers import random_network

EXAMPLE = REPO / "examples" / "pxyz.json"


def mlp(sizes, hidden="tansig", last="purelin", seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for k in range(1, len(sizes)):
        weights = rng.normal(size=(sizes[k], sizes[k - 1]))
        transfer = last if k == len(sizes) - 1 else hidden
        connection = {"input_weights": [(0, weights)]} if k == 1 else {"layer_weights": [(k - 2, weights)]}
        layers.append(Layer(sizes[k], transfer, rng.normal(size=sizes[k]), **connection))
    steps = [MapMinMax(rng.uniform(-5, 5, sizes[0]), rng.uniform(0.1, 2, sizes[0]), -1.0)]
    return Network([Input("x", sizes[0], steps)], layers, [Output("y", len(layers) - 1)], name="mlp")


BIG = mlp((20, 256, 256, 10))


def measured(net, what, closed_form=True):
    """Operations before CSE and closed-form nodes of the real unrolled program."""
    program = derivative_program(forward_program(net), what)
    nodes = latex_target.closed_form_size(simplify(program)) if closed_form else None
    return program.operation_count(), nodes


@pytest.mark.parametrize("sizes, hidden, last, what", [
    ((3, 10, 1), "tansig", "purelin", "jacobian"),
    ((3, 10, 1), "tansig", "purelin", "hessian"),
    ((3, 5, 4, 2), "logsig", "purelin", "hessian"),
    ((3, 6, 3), "tansig", "softmax", "jacobian"),
    ((2, 5, 5, 1), "softplus", "tansig", "value"),
])
def test_estimate_follows_the_measured_program_of_mlps(sizes, hidden, last, what):
    net = mlp(sizes, hidden, last)
    operations, nodes = measured(net, what)
    size = unrolled_size.estimate(net, (what,))
    assert 0.75 <= size.operations / operations <= 1.25, (size.operations, operations)
    assert 0.75 <= size.closed_form[what] / nodes <= 1.25, (size.closed_form[what], nodes)


@pytest.mark.parametrize("seed", range(6))
def test_estimate_is_the_right_order_on_random_networks(seed):
    """Every transfer function, several inputs and outputs, cascades, every step."""
    net = random_network(seed, max_width=4)
    operations, _ = measured(net, "hessian", closed_form=False)
    estimated = unrolled_size.estimate(net, ("hessian",)).operations
    assert operations / 2.5 <= estimated <= operations * 4, (estimated, operations)


def test_estimate_grows_with_width_depth_and_derivative_order():
    small, wide, deep = mlp((3, 10, 1)), mlp((3, 40, 1)), mlp((3, 10, 10, 1))
    for what in ("value", "jacobian", "hessian"):
        base = unrolled_size.estimate(small, (what,)).operations
        assert unrolled_size.estimate(wide, (what,)).operations > 3 * base
        assert unrolled_size.estimate(deep, (what,)).operations > 2 * base
    orders = [unrolled_size.estimate(deep, (what,)).operations for what in ("value", "jacobian", "hessian")]
    assert orders == sorted(orders) and orders[0] < orders[2] / 5


@pytest.fixture
def no_unrolled_build(monkeypatch):
    """Every way into the unrolled form fails the test if it is taken."""
    def forbidden(*args, **kwargs):
        raise AssertionError("the unrolled form was built")
    for name in ("forward_program", "derivative_program", "simplify"):
        monkeypatch.setattr(symnet.api, name, forbidden)
    monkeypatch.setattr(symnet.unrolled.program.Program, "inlined", forbidden)


def test_generate_refuses_a_large_unrolled_form_before_building_it(tmp_path, no_unrolled_build):
    with pytest.raises(SizeLimitError) as caught:
        symnet.generate(BIG, ["c"], tmp_path, derivatives=["value", "jacobian"], strategy="unrolled")
    message = str(caught.value)
    assert "\n" not in message
    estimate = unrolled_size.estimate(BIG, ("value", "jacobian")).operations
    assert f"about {unrolled_size.rounded(estimate):,} operations" in message
    assert f"limit of {unrolled_size.UNROLLED_OPERATION_LIMIT:,}" in message
    assert "--strategy layered" in message and "--allow-large-unrolled" in message
    assert "h to generate" in message   # hours, a finite number: the time grows with size, not past bounds
    assert list(tmp_path.iterdir()) == []


def test_command_line_refuses_with_one_line_and_exit_code_2(tmp_path, no_unrolled_build, capsys):
    model = tmp_path / "big.json"
    save_json(BIG, model)
    code = cli.main(["generate", str(model), "--target", "c", "--strategy", "unrolled", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("symnet: error: ") and "layered" in err


def test_derivative_program_and_expressions_refuse_before_building(monkeypatch):
    monkeypatch.setattr(unrolled_size, "UNROLLED_OPERATION_LIMIT", 100)
    jacobian = symnet.derive(mlp((3, 10, 1)), "jacobian")

    def forbidden(*args, **kwargs):
        raise AssertionError("the unrolled form was built")
    monkeypatch.setattr(symnet.api, "simplify", forbidden)
    monkeypatch.setattr(symnet.unrolled.program.Program, "inlined", forbidden)
    for attribute in ("program", "expressions"):
        with pytest.raises(SizeLimitError, match="limit of 100"):
            getattr(jacobian, attribute)


def test_derivative_builds_when_the_caller_insists(monkeypatch):
    monkeypatch.setattr(unrolled_size, "UNROLLED_OPERATION_LIMIT", 100)
    net = mlp((3, 10, 1))
    jacobian = symnet.derive(net, "jacobian", allow_large_unrolled=True)
    assert jacobian.program.operation_count() > 0
    assert jacobian.expressions.shape == (1, 3)


def test_generate_and_command_line_build_when_the_caller_insists(tmp_path, monkeypatch):
    monkeypatch.setattr(unrolled_size, "UNROLLED_OPERATION_LIMIT", 100)
    with pytest.raises(SizeLimitError):
        symnet.generate(symnet.load(EXAMPLE), ["python"], tmp_path / "a", strategy="unrolled")
    paths = symnet.generate(symnet.load(EXAMPLE), ["python"], tmp_path / "b", strategy="unrolled",
                            allow_large_unrolled=True)
    assert paths
    code = cli.main(["generate", str(EXAMPLE), "--target", "python", "--strategy", "unrolled",
                     "--allow-large-unrolled", "--out", str(tmp_path / "c")])
    assert code == 0 and (tmp_path / "c" / "pxyz.py").exists()


def test_layered_generation_of_a_large_network_is_not_refused(tmp_path, no_unrolled_build, monkeypatch):
    monkeypatch.setattr(unrolled_size, "UNROLLED_OPERATION_LIMIT", 100)
    net = mlp((3, 12, 12, 2))
    assert symnet.generate(net, ["numpy"], tmp_path, derivatives=["value", "jacobian"], strategy="auto")


def test_latex_skips_a_closed_form_estimated_too_large_without_measuring_or_printing_it(monkeypatch):
    net = mlp((3, 10, 1))
    assert unrolled_size.estimate(net, ("hessian",)).closed_form["hessian"] > latex_target.CLOSED_FORM_LIMIT
    program = symnet.derive(net, "hessian").program

    def forbidden(*args, **kwargs):
        raise AssertionError("the closed form was built")
    monkeypatch.setattr(latex_target, "closed_form_size", forbidden)
    monkeypatch.setattr(latex_target.BreakableLatexPrinter, "doprint", forbidden)
    form = latex_target.closed_form("hessian", program, net)
    assert form["entries"] == () and form["size"].startswith("about ")


def test_latex_message_states_the_estimate(monkeypatch):
    net = mlp((3, 10, 1))
    request = GenerationRequest(net, "m", (("hessian", symnet.derive(net, "hessian").program),), (),
                                derivatives=("hessian",))
    text = get_target("latex").render(request)["m_equations.tex"]
    estimate = unrolled_size.rounded(unrolled_size.estimate(net, ("hessian",)).closed_form["hessian"])
    assert f"hessian has about {estimate} expression nodes, more than" in text


# --- partial derivatives of order 3 and 4, user expressions ----------------------------------

RESIDUAL = "r = y1_x2 + y1*y1_x1 - 0.1*y1_x1x1"


def _expression(net, what, text=RESIDUAL):
    (name,) = [n for n in symnet.api.user_expressions(net, (text,), (), hessian=True) if n.spec.what == what]
    return name


@pytest.mark.parametrize("sizes, hidden, what", [
    ((3, 10, 1), "tansig", "d3y1_dx1_dx1_dx2"),
    ((3, 10, 1), "tansig", "d4y1_dx1_dx1_dx2_dx2"),
    ((3, 5, 4, 2), "logsig", "d4y1_dx1_dx1_dx2_dx2"),
    ((2, 6, 6, 1), "softplus", "d4y1_dx1_dx1_dx2_dx2"),
    ((2, 6, 6, 1), "poslin", "d4y1_dx1_dx1_dx2_dx2"),
    ((3, 10, 1), "tansig", "value"),
    ((3, 10, 1), "tansig", "gradient"),
    ((2, 6, 6, 1), "softplus", "hessian"),
    ((3, 5, 4, 2), "logsig", "hessian"),
    ((2, 6, 6, 1), "elu", "d4y1_dx1_dx1_dx2_dx2"),
    ((2, 6, 6, 1), "swish", "d3y1_dx1_dx1_dx2"),
    ((2, 5, 1), "swish", "hessian"),
])
def test_estimate_of_higher_partials_and_expressions_follows_the_measured_program(sizes, hidden, what):
    """Within the factor stated in symnet/unrolled/size.py (measured 0.73x to 2.0x on these
    transfer functions)."""
    net = mlp(sizes, hidden)
    name = _expression(net, what) if what in ("value", "gradient", "hessian") else what
    operations, _ = measured(net, name, closed_form=False)
    estimated = unrolled_size.estimate(net, (name,)).operations
    assert operations / 1.6 <= estimated <= operations * 2.2, (estimated, operations)


def test_higher_orders_are_estimated_larger_than_the_hessian_they_used_to_be_bounded_by():
    net = mlp((2, 32, 32, 1))
    hessian = unrolled_size.estimate(net, ("hessian",)).operations
    fourth = unrolled_size.estimate(net, ("d4y1_dx1_dx1_dx2_dx2",)).operations
    third = unrolled_size.estimate(net, ("d3y1_dx1_dx1_dx2",)).operations
    assert hessian < unrolled_size.UNROLLED_OPERATION_LIMIT < fourth and third < fourth / 2
    assert unrolled_size.estimate(net, (_expression(net, "hessian"),)).operations > fourth


MEDIUM = mlp((2, 32, 32, 1))


#: reads a third partial: its gradient needs order 4 (the layered form's highest), its Hessian order 5
THIRD = "r = y1_x1x1x2 + y1*y1_x2"


def test_an_order_5_partial_of_a_large_network_is_refused_before_building(no_unrolled_build):
    fifth = symnet.derive(MEDIUM, "d5y1/dx1^3dx2^2")
    with pytest.raises(SizeLimitError) as caught:
        fifth(np.zeros((2, 2)))
    message = str(caught.value)
    assert "\n" not in message and "d5y1_dx1_dx1_dx1_dx2_dx2" in message and "--allow-large-unrolled" in message
    assert "--strategy layered" not in message and "up to order 4 of this network only" in message


def test_order_4_partials_and_expression_hessians_of_a_large_network_are_layered(tmp_path, no_unrolled_build):
    """Up to order 4 the layered form builds them: nothing unrolled is built, and the unrolled
    strategy asked for by name is refused advising the layered one."""
    X = np.random.default_rng(0).uniform(-1, 1, (2, 2))
    assert np.all(np.isfinite(symnet.derive(MEDIUM, "d4y1/dx1^2dx2^2")(X)))
    assert np.all(np.isfinite(symnet.derive(MEDIUM, "hessian", expression=RESIDUAL)(X)))
    with pytest.raises(SizeLimitError) as caught:
        symnet.generate(MEDIUM, ["c"], tmp_path, derivatives=["d4y1/dx1^2dx2^2"], strategy="unrolled")
    assert "--strategy layered" in str(caught.value) and "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_an_expression_hessian_of_a_large_network_is_refused_before_building(tmp_path, no_unrolled_build):
    with pytest.raises(SizeLimitError) as caught:
        symnet.derive(MEDIUM, "hessian", expression=THIRD)
    assert "\n" not in str(caught.value) and "--allow-large-unrolled" in str(caught.value)
    with pytest.raises(SizeLimitError) as caught:
        symnet.generate(MEDIUM, ["c"], tmp_path, derivatives=["hessian"], expressions=[THIRD])
    message = str(caught.value)
    assert "r_hessian" in message and "--allow-large-unrolled" in message and "--strategy layered" not in message
    assert list(tmp_path.iterdir()) == []


def test_command_line_check_and_generate_refuse_an_expression_hessian_in_one_line(tmp_path, no_unrolled_build,
                                                                                capsys):
    model = tmp_path / "medium.json"
    save_json(MEDIUM, model)
    for command in (["check", str(model), "--expression", THIRD],
                    ["check", str(model), "--derivatives", "d5y1/dx1^3dx2^2"],
                    ["generate", str(model), "--target", "c", "--expression", THIRD, "--derivatives", "hessian",
                     "--out", str(tmp_path / "out")]):
        code = cli.main(command)
        err = capsys.readouterr().err
        assert code == 2, command
        assert err.count("\n") == 1 and err.startswith("symnet: error: ") and "--allow-large-unrolled" in err, err
    assert not (tmp_path / "out").exists()


def test_small_networks_still_build_order_4_partials_and_expression_hessians():
    net = mlp((3, 10, 1))
    X = np.random.default_rng(0).uniform(-1, 1, (2, 3))
    assert np.all(np.isfinite(symnet.derive(net, "d4y1/dx1^2dx2^2")(X)))
    assert symnet.derive(net, "hessian", expression=RESIDUAL)(X).shape == (2, 3, 3)


def test_command_line_check_builds_when_the_caller_insists(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(unrolled_size, "UNROLLED_OPERATION_LIMIT", 100)
    model = tmp_path / "small.json"
    save_json(mlp((3, 10, 1)), model)
    command = ["check", str(model), "--derivatives", "d5y1/dx1^3dx2^2", "--points", "2", "--quiet"]
    assert cli.main(command) == 2
    assert "limit of 100" in capsys.readouterr().err
    assert cli.main(command + ["--allow-large-unrolled"]) == 0
    assert capsys.readouterr().out.count(" ok\n") == 2


def test_a_refusal_of_many_derivatives_names_a_few_and_counts_the_rest():
    assert unrolled_size._listed(["a", "b"]) == "a and b"
    assert unrolled_size._listed(list("abcdefg")) == "a, b, c and 4 more derivatives"


# --- networks with output maps: the layered form maps the whole arrays only ---------------------

#: a 3-10-1 MLP under a hard boundary condition u = x1 (1 - x1) y (symnet.ir.output_map)
MAPPED = dataclasses.replace(mlp((3, 10, 1)), outputs=(Output("y", 1, output_map=("x_0*(1 - x_0)*y",)),))


def _refusal(call):
    with pytest.raises(SizeLimitError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and "--allow-large-unrolled" in message, message
    return message


def test_the_advice_for_a_mapped_network_follows_what_the_layered_strategy_builds(tmp_path, monkeypatch):
    """The whole arrays: the layered strategy is advised, and builds them; a directional
    derivative: it is not advised (it refuses them), and the refusal says why."""
    monkeypatch.setattr(unrolled_size, "UNROLLED_OPERATION_LIMIT", 100)
    whole = _refusal(lambda: symnet.generate(MAPPED, ["numpy"], tmp_path / "a", derivatives=["value", "jacobian"],
                                             strategy="unrolled"))
    assert "--strategy layered" in whole
    assert symnet.generate(MAPPED, ["numpy"], tmp_path / "b", derivatives=["value", "jacobian"], strategy="layered")
    for derivatives in (["value", "jvp"], ["laplacian"], ["d2y1/dx1dx2"]):
        message = _refusal(lambda: symnet.generate(MAPPED, ["numpy"], tmp_path / "c", derivatives=derivatives))
        assert "--strategy layered" not in message and "network with output maps" in message, message
        with pytest.raises(symnet.errors.UnsupportedError, match="output maps"):
            symnet.generate(MAPPED, ["numpy"], tmp_path / "d", derivatives=derivatives, strategy="layered")
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


def test_derive_of_a_mapped_network_advises_only_what_builds_it(monkeypatch, no_unrolled_build):
    monkeypatch.setattr(unrolled_size, "UNROLLED_OPERATION_LIMIT", 100)
    X, v = np.zeros((2, 3)), np.ones((2, 3))
    message = _refusal(lambda: symnet.derive(MAPPED, "jvp")(X, v))
    assert "--strategy layered" not in message and "not jvp" in message
    for what in ("value", "gradient"):
        message = _refusal(lambda: symnet.derive(MAPPED, what, expression="r = y_x1 + y*y_x2x2"))
        assert "--strategy layered" not in message and "no partial derivative of a network with output maps" \
            in message, message


def test_command_line_refusals_for_a_mapped_network_are_one_line_with_the_right_advice(tmp_path, monkeypatch,
                                                                                      no_unrolled_build, capsys):
    monkeypatch.setattr(unrolled_size, "UNROLLED_OPERATION_LIMIT", 100)
    model = tmp_path / "mapped.json"
    save_json(MAPPED, model)
    out = ["--out", str(tmp_path / "out")]
    for command, layered in ((["generate", str(model), "--target", "c", "--strategy", "unrolled"] + out, True),
                             (["generate", str(model), "--target", "c", "--derivatives", "value,jvp"] + out, False),
                             (["generate", str(model), "--target", "c", "--expression", "r = y_x1 + y*y_x2x2"] + out,
                              False),
                             (["check", str(model), "--derivatives", "laplacian"], False),
                             (["check", str(model), "--expression", "r = y_x1 + y*y_x2x2"], False)):
        code = cli.main(command)
        err = capsys.readouterr().err
        assert code == 2, command
        assert err.count("\n") == 1 and err.startswith("symnet: error: ") and "--allow-large-unrolled" in err, err
        assert ("--strategy layered" in err) == layered and ("output maps" in err) != layered, err
    assert not (tmp_path / "out").exists()
