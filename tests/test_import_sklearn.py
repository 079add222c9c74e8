"""scikit-learn import: trained pipelines (each scaler, regressor and classifier,
TransformedTargetRegressor) give predict / predict_proba to 1e-12, and their
Jacobians agree with finite differences of scikit-learn's own predictions."""

import warnings

import numpy as np
import pytest

import symnet
from helpers import require_module
from symnet.reference.finite_differences import central_jacobian, compare

sklearn = require_module("sklearn")

from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import (MaxAbsScaler, MinMaxScaler, PolynomialFeatures,  # noqa: E402
                                   RobustScaler, StandardScaler)

SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "maxabs": MaxAbsScaler, "robust": RobustScaler}
RNG = np.random.default_rng(0)
X_TRAIN = RNG.normal(size=(80, 3)) * [1.0, 10.0, 100.0] + [0.0, 5.0, 300.0]
Y_TRAIN = np.sin(X_TRAIN[:, 0]) + X_TRAIN[:, 1] / 10 + (X_TRAIN[:, 2] - 300) / 100
X_TEST = X_TRAIN[:6] + RNG.normal(size=(6, 3)) * [0.1, 1.0, 10.0]


def fit(model, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # few iterations on purpose: convergence warnings
        return model.fit(X_TRAIN, y)


def mlp(kind, activation, **options):
    cls = MLPRegressor if kind == "regressor" else MLPClassifier
    return cls(hidden_layer_sizes=(6, 4), activation=activation, max_iter=60, random_state=0, **options)


CASES = {
    "regressor": lambda scaler, act: (make_pipeline(scaler(), mlp("regressor", act)), Y_TRAIN),
    "regressor_two_targets": lambda scaler, act: (make_pipeline(scaler(), mlp("regressor", act)),
                                                  np.stack([Y_TRAIN, Y_TRAIN ** 2], axis=1)),
    "binary_classifier": lambda scaler, act: (make_pipeline(scaler(), mlp("classifier", act)),
                                              (Y_TRAIN > np.median(Y_TRAIN)).astype(int)),
    "multiclass_classifier": lambda scaler, act: (make_pipeline(scaler(), mlp("classifier", act)),
                                                  np.digitize(Y_TRAIN, np.quantile(Y_TRAIN, [0.3, 0.7]))),
    "transformed_target": lambda scaler, act: (TransformedTargetRegressor(
        make_pipeline(scaler(), mlp("regressor", act)), transformer=scaler()), 50 * Y_TRAIN + 1000),
}


def predictions(model):
    if hasattr(model, "predict_proba"):
        return model.predict_proba
    return lambda X: model.predict(X).reshape(len(X), -1)


@pytest.fixture(scope="module", params=[(case, scaler, act) for case in sorted(CASES) for scaler in sorted(SCALERS)
                                        for act in (("tanh", "relu") if case == "regressor" else ("tanh",))],
                ids=lambda p: "-".join(p))
def trained(request):
    case, scaler, activation = request.param
    model, y = CASES[case](SCALERS[scaler], activation)
    return fit(model, y)


def test_evaluate_equals_predict(trained):
    net = symnet.load(trained)
    expected = predictions(trained)(X_TEST)
    result = compare(net.evaluate(X_TEST)[:, None, :], expected[:, None, :])
    assert result.max_rel_error <= 1e-12, result


def test_jacobian_matches_finite_differences_of_predict(trained):
    net = symnet.load(trained)
    differences = central_jacobian(predictions(trained), X_TEST, 1e-4 * np.std(X_TRAIN, axis=0))
    result = compare(symnet.derive(net, "jacobian")(X_TEST), differences)
    assert result.max_rel_error <= 1e-6, result


def test_logistic_and_identity_activations_and_poisson_output():
    for activation in ("logistic", "identity"):
        model = fit(make_pipeline(StandardScaler(), mlp("regressor", activation)), Y_TRAIN)
        expected = model.predict(X_TEST)[:, None]
        assert compare(symnet.load(model).evaluate(X_TEST)[:, None, :], expected[:, None, :]).max_rel_error <= 1e-12
    poisson = fit(mlp("regressor", "tanh", loss="poisson"), np.exp(Y_TRAIN / 4))
    expected = poisson.predict(X_TEST)[:, None]
    assert compare(symnet.load(poisson).evaluate(X_TEST)[:, None, :], expected[:, None, :]).max_rel_error <= 1e-12


def test_scalers_become_steps_with_the_training_range():
    net = symnet.load(fit(make_pipeline(MinMaxScaler(), mlp("regressor", "tanh")), Y_TRAIN))
    assert [s.kind for s in net.inputs[0].steps] == ["affine"]
    np.testing.assert_array_equal(net.input_range(), np.stack([X_TRAIN.min(0), X_TRAIN.max(0)], axis=1))
    net = symnet.load(fit(CASES["transformed_target"](StandardScaler, "tanh")[0], 50 * Y_TRAIN + 1000))
    assert [s.kind for s in net.inputs[0].steps] == ["mapstd"]
    assert [s.kind for s in net.outputs[0].steps] == ["mapstd"]


def test_pickled_estimator_needs_trust(tmp_path):
    joblib = require_module("joblib")
    model = fit(make_pipeline(StandardScaler(), mlp("regressor", "tanh")), Y_TRAIN)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    with pytest.raises(symnet.UnsupportedError, match="refusing to unpickle.*--trust-pickle"):
        symnet.load(path)
    net = symnet.load(path, trust_pickle=True)
    assert compare(net.evaluate(X_TEST)[:, None, :], model.predict(X_TEST)[:, None, None].transpose(0, 2, 1)
                   ).max_rel_error <= 1e-12


@pytest.mark.parametrize("model, problem", [
    (lambda: make_pipeline(PolynomialFeatures(), mlp("regressor", "tanh")), "'polynomialfeatures'.*PolynomialFeatures"),
    (lambda: make_pipeline(MinMaxScaler(clip=True), mlp("regressor", "tanh")), r"MinMaxScaler\(clip=True\)"),
    (lambda: TransformedTargetRegressor(mlp("regressor", "tanh"), func=np.arcsinh, inverse_func=np.sinh),
     "func/inverse_func"),
    (lambda: make_pipeline(StandardScaler(), PolynomialFeatures()), "PolynomialFeatures is not supported"),
])
def test_unsupported_constructs_are_named(model, problem):
    with pytest.raises(symnet.UnsupportedError, match=problem):
        symnet.load(fit(model(), Y_TRAIN))


def test_unfitted_model_is_refused():
    with pytest.raises(symnet.ModelFormatError, match="MLPRegressor is not fitted"):
        symnet.load(mlp("regressor", "tanh"))
