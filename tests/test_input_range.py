"""The raw range that ``check`` and the self-checks sample from, derived through any
sequence of input steps.

Expected ranges are checked forward, through each step's ``apply`` (the direction the
network computes, not the ``reverse`` the derivation uses): the ends of the derived
range must land on the ends of the intended normalized range, and points sampled
inside it must land inside that range.  The intended range is the one docs/cli.md
states: an exact one (mapminmax's [ymin, 1]) before an estimate (mapstd's mean ± 2 std),
the last of them; [-1, 1] at the network's side when no step states one.
"""

import warnings

import numpy as np
import pytest

from symnet import Affine, Input, Layer, MapMinMax, MapStd, Network, Output, RemoveConstantRows
from symnet.reference.finite_differences import sample_points

from helpers import require_module

MINMAX = MapMinMax([10.0, -4.0, 0.5], [0.25, -2.0, 8.0], [-1.0, -1.0, 0.0])
STD = MapStd([0.02, 3.0, -7.0], [2.0, -0.5, 0.1], [0.0, 1.0, 0.0])
AFFINE = Affine([3.0, -0.25, 40.0], [1.0, 2.0, -5.0])
REMOVE = RemoveConstantRows(4, (0, 2, 3))

#: (label, raw size, steps, position of the step whose range is intended, or None for [-1, 1] at the end)
CASES = [
    ("mapminmax", 3, [MINMAX], 0),
    ("mapstd", 3, [STD], 0),
    ("affine", 3, [AFFINE], None),
    ("removeconstantrows", 4, [REMOVE], None),
    ("none", 3, [], None),
    ("mapstd+affine", 3, [STD, AFFINE], 0),
    ("affine+mapstd", 3, [AFFINE, STD], 1),
    ("affine+mapminmax", 3, [AFFINE, MINMAX], 1),
    ("mapminmax+affine", 3, [MINMAX, AFFINE], 0),
    ("removeconstantrows+mapminmax", 4, [REMOVE, MINMAX], 1),
    ("removeconstantrows+mapstd+affine", 4, [REMOVE, STD, AFFINE], 1),
    ("mapstd+mapminmax", 3, [STD, MINMAX], 1),
    ("mapminmax+mapstd", 3, [MINMAX, STD], 0),          # the exact range wins over the later estimate
    ("mapminmax+affine+mapstd", 3, [MINMAX, AFFINE, STD], 0),
    ("mapstd+affine+mapstd", 3, [STD, AFFINE, STD], 2),  # of two estimates, the last
    ("affine+affine", 3, [AFFINE, AFFINE], None),
]


def _network(size, steps):
    inp = Input("x", size, steps)
    layer = Layer(1, "tansig", [0.0], input_weights=((0, np.ones((1, inp.processed_size))),))
    return Network([inp], [layer], [Output("y", 0)])


def _forward(steps, X):
    """Rows of X (n, raw size) through ``steps`` with ``apply``: (n, processed size)."""
    rows = list(X.T)
    for step in steps:
        rows = step.apply(rows)
    return np.array(rows).T


def _intended(steps, position, raw_size):
    """(steps up to the defining one, its normalized range)."""
    if position is None:
        processed = _network(raw_size, steps).inputs[0].processed_size
        return steps, np.tile([-1.0, 1.0], (processed, 1))
    return steps[:position + 1], steps[position].normalized_range()


@pytest.mark.parametrize("label, size, steps, position", CASES, ids=[case[0] for case in CASES])
def test_range_maps_onto_the_intended_normalized_range(label, size, steps, position):
    net = _network(size, steps)
    raw = net.input_range()
    assert raw.shape == (size, 2) and np.all(raw[:, 0] < raw[:, 1])
    through, normalized = _intended(steps, position, size)
    ends = np.sort(_forward(through, raw.T.copy()), axis=0).T      # (processed, 2)
    np.testing.assert_allclose(ends, normalized, rtol=1e-13, atol=1e-13)
    inside = _forward(through, sample_points(net, 200, seed=5, margin=0.0))
    assert np.all(inside >= normalized[:, 0] - 1e-12) and np.all(inside <= normalized[:, 1] + 1e-12)
    # the sampled points fill the range, not a corner of it
    assert np.all(np.ptp(inside, axis=0) > 0.8 * (normalized[:, 1] - normalized[:, 0]))


def test_rows_that_removeconstantrows_drops_get_the_unit_range():
    for steps in ([REMOVE], [REMOVE, MINMAX], [REMOVE, STD, AFFINE], [REMOVE, AFFINE]):
        np.testing.assert_array_equal(_network(4, steps).input_range()[1], [-1.0, 1.0])


def test_mapstd_then_affine_by_hand():
    """xoffset ± 2/gain of the mapstd step, whatever affine step follows it."""
    steps = [MapStd([0.02], [2.0], [0.0]), Affine([3.0], [1.0])]
    np.testing.assert_allclose(_network(1, steps).input_range(), [[0.02 - 1.0, 0.02 + 1.0]], rtol=1e-15)


def test_affine_alone_by_hand():
    """No step states a range: [-1, 1] at the network, (±1 - shift)/scale in raw units."""
    steps = [Affine([-0.5], [0.25])]
    # y = -0.5 x + 0.25 is -1 at x = 2.5 and 1 at x = -1.5
    np.testing.assert_allclose(_network(1, steps).input_range(), [[-1.5, 2.5]], rtol=1e-15)


@pytest.mark.parametrize("scalers", [("standard", "minmax"), ("robust", "minmax"), ("minmax", "standard"),
                                     ("maxabs", "minmax"), ("standard", "maxabs", "minmax")])
def test_scikit_learn_pipeline_range_is_the_training_data_range(scalers):
    """Scalers in any order: the range is where the training data lay, known exactly from
    the MinMaxScaler wherever it sits in the pipeline."""
    require_module("sklearn")
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

    import symnet
    kinds = {"standard": StandardScaler, "minmax": MinMaxScaler, "maxabs": MaxAbsScaler, "robust": RobustScaler}
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.uniform(-0.955, 0.994, 40), rng.uniform(250, 350, 40)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # a few iterations: only the scalers matter here
        pipeline = make_pipeline(*(kinds[k]() for k in scalers), MLPRegressor(hidden_layer_sizes=(3,), max_iter=3, random_state=0))
        pipeline.fit(X, X[:, 0])
    expected = np.column_stack([X.min(axis=0), X.max(axis=0)])
    np.testing.assert_allclose(symnet.load(pipeline).input_range(), expected, rtol=1e-13, atol=1e-15)
