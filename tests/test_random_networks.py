"""Random networks: the symbolic path, the generated python module and the
generated numpy module agree with each other and with finite differences of
the direct numeric evaluation."""

import numpy as np
import pytest

import symnet
from symnet.reference.finite_differences import compare, finite_difference_hessian, finite_difference_jacobian

from helpers import ALL_TRANSFERS, SMOOTH_TRANSFERS, import_file, points_for, random_network

SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_symbolic_derivatives_match_finite_differences(seed):
    net = random_network(seed, transfers=SMOOTH_TRANSFERS + ("softmax",))
    X = points_for(net)
    jacobian = symnet.derive(net, "jacobian")
    np.testing.assert_allclose(symnet.derive(net, "value")(X), net.evaluate(X), rtol=1e-12, atol=1e-12)
    assert compare(jacobian(X), finite_difference_jacobian(net, X)).max_rel_error < 1e-6
    hessian = symnet.derive(net, "hessian")(X)
    assert compare(hessian, finite_difference_hessian(jacobian, net, X)).max_rel_error < 1e-6
    np.testing.assert_array_equal(hessian, np.swapaxes(hessian, 2, 3))


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_python_and_numpy_agree_with_symbolic(seed, tmp_path):
    net = random_network(seed, transfers=ALL_TRANSFERS)
    X = points_for(net, count=3, seed=seed)
    what = ("value", "jacobian", "hessian")
    paths = symnet.generate(net, ["python", "numpy"], tmp_path, derivatives=what, name="model")
    assert sorted(p.name for p in paths) == ["model.py", "model_check.py", "model_numpy.py", "model_numpy_check.py"]
    pure = import_file(tmp_path / "model.py", f"gen_pure_{seed}")
    vectorized = import_file(tmp_path / "model_numpy.py", f"gen_numpy_{seed}")
    assert (pure.N_INPUTS, pure.N_OUTPUTS) == (net.n_inputs, net.n_outputs)
    for name, function in (("value", "evaluate"), ("jacobian", "jacobian"), ("hessian", "hessian")):
        reference = symnet.derive(net, name)(X)
        batch = getattr(vectorized, function)(X)
        single = np.array([getattr(pure, function)(list(x)) for x in X])
        scale = np.abs(reference).max() + 1e-300
        np.testing.assert_allclose(batch, reference, rtol=1e-12, atol=1e-12 * scale)
        np.testing.assert_allclose(single, reference, rtol=1e-12, atol=1e-12 * scale)


def test_gradient_of_a_single_output_network(tmp_path):
    net = next(n for n in (random_network(s, transfers=SMOOTH_TRANSFERS) for s in range(100))
               if n.n_outputs == 1)
    X = points_for(net)
    gradient = symnet.derive(net, "gradient")(X)
    np.testing.assert_allclose(gradient, symnet.derive(net, "jacobian")(X)[:, 0, :], rtol=1e-12)
    symnet.generate(net, ["python", "numpy"], tmp_path, derivatives=["gradient"], name="g")
    np.testing.assert_allclose(import_file(tmp_path / "g_numpy.py", "g_numpy").gradient(X), gradient, rtol=1e-12)
    np.testing.assert_allclose(import_file(tmp_path / "g.py", "g_py").gradient(list(X[0])), gradient[0], rtol=1e-12)


def test_gradient_of_a_multi_output_network_is_refused():
    net = next(n for n in (random_network(s) for s in range(100)) if n.n_outputs > 1)
    with pytest.raises(symnet.UnsupportedError, match="single-output"):
        symnet.derive(net, "gradient")


def test_removed_rows_give_exactly_zero_jacobian_columns_and_rows():
    net = symnet.Network(
        [symnet.Input("x", 3, [symnet.RemoveConstantRows(3, (0, 2)), symnet.MapMinMax([0, 0], [1, 2], -1)])],
        [symnet.Layer(2, "tansig", [0.1, 0.2], [(0, [[1.0, 2.0], [0.5, -1.0]])]),
         symnet.Layer(1, "purelin", [0.3], layer_weights=[(0, [[1.0, -2.0]])])],
        [symnet.Output("y", 1, [symnet.RemoveConstantRows(2, (1,), (4.5,)), symnet.MapMinMax([1], [2], -1)])])
    X = points_for(net)
    J = symnet.derive(net, "jacobian")(X)
    assert np.all(J[:, :, 1] == 0.0)
    assert np.all(J[:, 0, :] == 0.0)
    assert np.all(net.evaluate(X)[:, 0] == 4.5)
    assert np.all(np.abs(J[:, 1, [0, 2]]) > 0)
