"""scikit-learn importer (extra ``symnet[sklearn]``): fitted ``MLPRegressor`` and
``MLPClassifier``, alone, at the end of a ``Pipeline`` of scalers, and inside a
``TransformedTargetRegressor`` whose transformer is such a scaler.

The network's outputs are what scikit-learn returns: ``predict`` for a
regressor, ``predict_proba`` for a classifier (for a binary classifier the two
columns [1 - p, p], computed exactly as scikit-learn computes them).  Each
scaler becomes the processing step that performs the same arithmetic.
"""

import numpy as np

from ..errors import ModelFormatError, UnsupportedError
from ..ir.evaluation import raw_range
from ..ir.network import Affine, Input, Layer, MapStd, Network, Output

#: scikit-learn activation -> (transfer function, parameters); "exp" is the Poisson loss's output
_ACTIVATIONS = {"identity": ("purelin", ()), "logistic": ("logsig", ()), "tanh": ("tansig", ()),
                "relu": ("poslin", ()), "softmax": ("softmax", ()),
                "exp": ("expression", (("expression", "exp(n)"),))}


def load_estimator(estimator, name=None):
    """A Network from a fitted scikit-learn estimator."""
    kind = type(estimator).__name__
    scalers, output_steps, model = _unwrap(estimator)
    _require_fitted(model)
    layers = _layers(model)
    n_inputs = model.coefs_[0].shape[0]
    steps_per_scaler = [_broadcast(_scaler_steps(scaler, where), n_inputs) for where, scaler in scalers]
    input_steps = [step for steps in steps_per_scaler for step in steps]
    value_range = _training_range([scaler for _, scaler in scalers], steps_per_scaler)
    inputs = [Input("x", n_inputs, input_steps, value_range)]
    outputs = [Output("y", len(layers) - 1, output_steps)]
    return Network(inputs, layers, outputs, name=name or kind)


def _unwrap(estimator):
    """(input scalers as (where, scaler), output steps, MLP) of an estimator, a Pipeline
    or a TransformedTargetRegressor."""
    kind = type(estimator).__name__
    if kind == "TransformedTargetRegressor":
        if getattr(estimator, "func", None) is not None or getattr(estimator, "inverse_func", None) is not None:
            raise UnsupportedError("TransformedTargetRegressor with func/inverse_func is not supported;"
                                   " use a scaler as its transformer")
        if not hasattr(estimator, "regressor_"):
            raise ModelFormatError("TransformedTargetRegressor is not fitted")
        transformer = estimator.transformer_
        target_steps = [] if transformer is None else _scaler_steps(transformer, "transformer")
        input_steps, inner_output, model = _unwrap(estimator.regressor_)
        # output steps are listed in the order they apply to training targets
        return input_steps, tuple(target_steps) + tuple(inner_output), model
    if kind == "Pipeline":
        steps = [(step_name, step) for step_name, step in estimator.steps if step not in (None, "passthrough")]
        if not steps:
            raise UnsupportedError("the Pipeline has no steps")
        scalers = [(f"pipeline step {step_name!r}", step) for step_name, step in steps[:-1]]
        inner_scalers, output_steps, model = _unwrap(steps[-1][1])
        return scalers + inner_scalers, output_steps, model
    if kind in ("MLPRegressor", "MLPClassifier"):
        return [], (), estimator
    raise UnsupportedError(f"{kind} is not supported; symnet reads MLPRegressor and MLPClassifier, alone,"
                           " in a Pipeline of scalers, or in a TransformedTargetRegressor")


def _require_fitted(model):
    if not hasattr(model, "coefs_"):
        raise ModelFormatError(f"{type(model).__name__} is not fitted")


def _scaler_steps(scaler, where):
    """The processing steps that do what ``scaler.transform`` does."""
    kind = type(scaler).__name__
    if kind == "FunctionTransformer" and scaler.func is None and scaler.inverse_func is None:
        return []   # the identity (TransformedTargetRegressor's default transformer)
    if not _fitted_scaler(scaler):
        raise ModelFormatError(f"{where}: {kind} is not fitted")
    if kind == "StandardScaler":
        return _center_scale(getattr(scaler, "mean_", None) if scaler.with_mean else None,
                             scaler.scale_ if scaler.with_std else None)
    if kind == "RobustScaler":
        return _center_scale(scaler.center_ if scaler.with_centering else None,
                             scaler.scale_ if scaler.with_scaling else None)
    if kind == "MaxAbsScaler":
        return _center_scale(None, scaler.scale_)
    if kind == "MinMaxScaler":
        if scaler.clip:
            raise UnsupportedError(f"{where}: MinMaxScaler(clip=True) is not supported")
        # transform: X * scale_ + min_, the same two operations as an affine step
        return [Affine(scaler.scale_, scaler.min_)]
    raise UnsupportedError(f"{where}: {kind} is not supported; symnet reads StandardScaler, MinMaxScaler,"
                           " MaxAbsScaler and RobustScaler")


def _training_range(scalers, steps_per_scaler):
    """The raw training range, from the first scaler that saw the range of its input: a
    MinMaxScaler (exact) before a MaxAbsScaler (a bound), mapped back exactly through the
    scalers before it; None when none did (the mapstd steps then imply a range)."""
    seen = [(type(scaler).__name__ != "MinMaxScaler", index, known) for index, scaler in enumerate(scalers)
            if (known := _scaler_range(scaler)) is not None]
    if not seen:
        return None
    _, index, known = min(seen, key=lambda item: item[:2])
    return raw_range([step for steps in steps_per_scaler[:index] for step in steps], known)


def _scaler_range(scaler):
    """The range of its input a min-max or max-abs scaler saw (others only imply one)."""
    kind = type(scaler).__name__
    if kind == "MinMaxScaler" and hasattr(scaler, "data_min_"):
        return np.stack([scaler.data_min_, scaler.data_max_], axis=1)
    if kind == "MaxAbsScaler" and hasattr(scaler, "max_abs_"):
        return np.stack([-scaler.max_abs_, scaler.max_abs_], axis=1)
    return None


def _fitted_scaler(scaler):
    return any(hasattr(scaler, attribute) for attribute in ("scale_", "center_", "n_features_in_"))


def _center_scale(center, scale):
    """(x - center) / scale as one mapstd step; scikit-learn divides, mapstd multiplies by 1/scale."""
    if center is None and scale is None:
        return []
    size = np.size(center if center is not None else scale)
    center = np.zeros(size) if center is None else np.asarray(center, dtype=float)
    gain = np.ones(size) if scale is None else 1.0 / np.asarray(scale, dtype=float)
    return [MapStd(center, gain, 0.0)]


def _broadcast(steps, size):
    return [type(s)(*[np.broadcast_to(getattr(s, f), (size,)) for f in s.numeric_fields])
            if s.kind != "removeconstantrows" else s for s in steps]


def _layers(model):
    hidden = _ACTIVATIONS.get(model.activation)
    final = _ACTIVATIONS.get(model.out_activation_)
    if hidden is None or final is None:
        raise UnsupportedError(f"{type(model).__name__} activation"
                               f" {model.activation if hidden is None else model.out_activation_!r} is not supported")
    count = len(model.coefs_)
    layers = []
    for index, (weights, bias) in enumerate(zip(model.coefs_, model.intercepts_)):
        transfer, params = final if index == count - 1 else hidden
        source = "input_weights" if index == 0 else "layer_weights"
        connection = {source: ((max(index - 1, 0), weights.T),)}
        layers.append(Layer(weights.shape[1], transfer, bias, transfer_params=params, name=f"layer{index + 1}",
                            **connection))
    if type(model).__name__ == "MLPClassifier" and model.out_activation_ == "logistic" and model.n_outputs_ == 1:
        # predict_proba of a binary classifier: [1 - p, p]; 1 + (-1)*p is exactly 1 - p
        layers.append(Layer(2, "purelin", [1.0, 0.0], layer_weights=((count - 1, [[-1.0], [1.0]]),),
                            name="class_probabilities"))
    return layers
