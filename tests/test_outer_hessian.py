"""The Hessian as a sum of outer products (symnet.layered.steps.OuterSum): chosen for
networks whose varying layers are all element-wise, forward-over-reverse kept for the
others; a wide network's Hessian in layered C, one point per call and in blocks, against
the 30-digit reference; the outer products' symmetry exact."""

import numpy as np
import pytest

from symnet.emit.layered_common import layered_programs
from symnet.ir.network import Input, Layer, Network, Output
from symnet.layered.steps import OuterSum, SecondOrder
from symnet.reference.high_precision import reference_values_of

from helpers import points_for
from test_layered import mlp
from test_layered_c import compile_and_run


def softmax_net(seed=0):
    rng = np.random.default_rng(seed)
    layers = [Layer(6, "tansig", rng.normal(size=6), [(0, rng.normal(size=(6, 3)))]),
              Layer(4, "softmax", rng.normal(size=4), layer_weights=[(0, rng.normal(size=(4, 6)))])]
    return Network([Input("x", 3)], layers, [Output("y", 1)], name="classifier")


def hessian_steps(net):
    return dict(layered_programs(net, ("hessian",)))["hessian"].steps


def test_outer_products_for_element_wise_layers_forward_over_reverse_for_softmax():
    steps = hessian_steps(mlp((4, 9, 7, 2)))
    assert any(isinstance(step, OuterSum) for step in steps)
    assert not any(isinstance(step, SecondOrder) for step in steps)
    (outer,) = [step for step in steps if isinstance(step, OuterSum)]
    assert [units for _, _, units in outer.terms] == [9, 7]   # both tanh layers, not the linear one
    steps = hessian_steps(softmax_net())
    assert any(isinstance(step, SecondOrder) for step in steps)
    assert not any(isinstance(step, OuterSum) for step in steps)


@pytest.mark.parametrize("sizes", [(12, 64, 48, 5), (2, 40, 33, 30, 1)])
def test_wide_hessian_in_c_against_the_30_digit_reference(sizes, tmp_path):
    net = mlp(sizes)
    X = points_for(net, count=19)   # a full block of 16 and a short one, or blocks of 8
    results = compile_and_run(net, tmp_path, X, ["-O3", "-march=native"])
    expected = reference_values_of(net, ("hessian",), X)["hessian"]
    single, batch = results["hessian"]
    np.testing.assert_array_equal(batch, single)
    np.testing.assert_array_equal(single, np.swapaxes(single, -1, -2))
    scale = np.abs(expected).max()
    assert np.max(np.abs(single - expected)) <= 1e-13 * scale
