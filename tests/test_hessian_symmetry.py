"""The layered Hessian's symmetry: the outer products (OuterSum) write both triangles
themselves, with no Symmetrize pass after them; forward-over-reverse computes only the
upper triangle of its last product (Linear.upper) and mirrors it once.  Every target with
a layered form (C one point and batch, NumPy, Python, MATLAB) gives exactly symmetric
Hessians in both forms, against torch.func.hessian and central finite differences."""

import numpy as np
import pytest

import symnet
from symnet.emit.layered_common import layered_programs
from symnet.layered import schedule
from symnet.layered.steps import Linear, OuterSum, Symmetrize
from symnet.reference.finite_differences import compare, finite_difference_hessian

import runners
from helpers import require_module
from test_layered_c import compile_and_run

#: (torch model of tests/torch_models.py, the form forced, or None: as chosen, the form built)
FORMS = {
    "outer": ("tanh_sigmoid", None, "outer"),
    "forward-over-reverse, softmax": ("relu_softmax", None, "forward-over-reverse"),
    "forward-over-reverse, forced": ("silu_gelu", False, "forward-over-reverse"),
}


@pytest.fixture(params=list(FORMS))
def case(request, monkeypatch):
    require_module("torch")
    import torch_models
    name, forced, form = FORMS[request.param]
    if forced is not None:
        monkeypatch.setattr(schedule._Builder, "outer_form_is_cheaper", lambda self: forced)
    module = torch_models.build(name)
    net = symnet.load(module)
    return net, module, torch_models.sample_inputs(5).numpy(), form


def hessian_steps(net):
    return dict(layered_programs(net, ("hessian",)))["hessian"].steps


def test_the_outer_products_are_not_symmetrized_again_and_the_last_product_is_a_triangle(case):
    net, _, _, form = case
    steps = hessian_steps(net)
    if form == "outer":
        assert isinstance(steps[-1], OuterSum)
        assert not any(isinstance(step, Symmetrize) for step in steps)
    else:
        product, mirror = steps[-2:]
        assert isinstance(product, Linear) and product.upper and product.out == mirror.out
        assert isinstance(mirror, Symmetrize)
        assert not any(isinstance(step, OuterSum) for step in steps)
        assert sum(isinstance(step, Linear) and step.upper for step in steps) == 1


@pytest.mark.parametrize("target", ["c", "numpy", "python", "matlab"])
def test_every_layered_target_gives_exactly_symmetric_hessians(case, target, tmp_path):
    import torch
    import torch_models
    net, module, X, _ = case
    expected = torch_models.hessians(module, torch.from_numpy(X))
    if target == "c":
        single, batch = compile_and_run(net, tmp_path, X, ["-O2"])["hessian"]
        np.testing.assert_array_equal(batch, single)
        results = [single, batch]
    else:
        built = runners.build(target, net, tmp_path, derivatives=("jacobian", "hessian"), strategy="layered")
        results = [built.evaluate("hessian", X)]
    differences = finite_difference_hessian(symnet.derive(net, "jacobian"), net, X)
    for hessian in results:
        assert hessian.shape == expected.shape
        np.testing.assert_array_equal(hessian, np.swapaxes(hessian, -1, -2))
        assert compare(hessian, expected).max_rel_error <= 1e-10
        assert compare(hessian, differences).max_rel_error <= 1e-5


@pytest.mark.parametrize("sizes, outer", [((3, 10, 1), True), ((3, 64, 64, 20), True), ((20, 64, 64, 3), True),
                                          ((20, 16, 16, 16, 3), False), ((30, 16, 16, 16, 16, 2), False),
                                          ((40, 8, 8, 8, 1), False)])
def test_the_sweep_order_is_the_one_measured_faster(sizes, outer):
    """The nets of docs/performance.md's sweep-order table: the form each one picks."""
    from test_layered import mlp
    steps = hessian_steps(mlp(sizes))
    assert any(isinstance(step, OuterSum) for step in steps) == outer
    assert any(isinstance(step, Linear) and step.upper for step in steps) == (not outer)
