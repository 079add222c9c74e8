"""Keras files in the layouts Keras 2 wrote (legacy HDF5, old config formats) and hand-written
Keras 3 archives, read without Keras: values checked against a NumPy forward pass written
here from the stored weights, Jacobians against central differences of it; refusals of the
layers symnet does not map, each named with its class."""

import sys

import numpy as np
import pytest

import symnet
from helpers import require_module
from keras_files import dense, keras_archive, keras3_sequential, layer, legacy_h5, sequential, small_keras3_model
from symnet.reference.finite_differences import central_jacobian, compare

require_module("h5py")

RNG = np.random.default_rng(5)


def _f32(shape):
    """Weights as Keras stores them (float32), returned as the float64 values they are."""
    return RNG.normal(size=shape).astype(np.float32).astype(float)


def _exact_f32(values):
    return values.astype(np.float32).astype(float)


def _hard_sigmoid_keras2(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _leaky(x, alpha):
    return np.where(x > 0, x, alpha * x)


def _check(net, forward, X, tolerance=1e-7):
    assert compare(net.evaluate(X)[:, None, :], forward(X)[:, None, :]).max_rel_error <= 1e-13
    differences = central_jacobian(forward, X, np.full(X.shape[1], 1e-4))
    result = compare(symnet.derive(net, "jacobian")(X), differences)
    assert result.max_rel_error <= tolerance, result


# --- Keras 2 Sequential ----------------------------------------------------------------------

def _keras2_sequential_weights():
    return {"dense": {"kernel": _f32((3, 4)), "bias": _f32(4)},
            "dense_1": {"kernel": _f32((4, 3)) * 4, "bias": _exact_f32(np.abs(_f32(3)) + 1)},   # relu units not all off
            "batch_normalization": {"gamma": _f32(3), "beta": _f32(3), "moving_mean": _f32(3),
                                    "moving_variance": _exact_f32(np.abs(_f32(3)) + 0.5)},
            "dense_2": {"kernel": _f32((3, 2)), "bias": _f32(2)}}


def _keras2_sequential_forward(weights):
    def forward(X):
        w = weights
        h = _hard_sigmoid_keras2(X @ w["dense"]["kernel"] + w["dense"]["bias"])
        h = _leaky(h, 0.3)
        h = np.maximum(h @ w["dense_1"]["kernel"] + w["dense_1"]["bias"], 0.0)
        bn = w["batch_normalization"]
        h = (h - bn["moving_mean"]) / np.sqrt(bn["moving_variance"] + 1e-3) * bn["gamma"] + bn["beta"]
        return _softmax(h @ w["dense_2"]["kernel"] + w["dense_2"]["bias"])
    return forward


def _keras2_sequential_layers():
    return [layer("InputLayer", "dense_input", batch_input_shape=[None, 3]),
            dense("dense", 4, "hard_sigmoid"), layer("LeakyReLU", "leaky_re_lu", alpha=0.3),
            dense("dense_1", 3, "relu"), layer("Dropout", "dropout", rate=0.5),
            layer("BatchNormalization", "batch_normalization", axis=-1, epsilon=1e-3, center=True, scale=True),
            dense("dense_2", 2, "softmax")]


@pytest.mark.parametrize("suffix", [".h5", ".hdf5"])
def test_keras2_sequential_h5(suffix, tmp_path):
    weights = _keras2_sequential_weights()
    path = tmp_path / f"model{suffix}"
    path.write_bytes(legacy_h5(sequential(_keras2_sequential_layers()), weights))
    net = symnet.load(path)
    # Keras 2's hard_sigmoid (slope 0.2), composed with the LeakyReLU after it into one activation
    assert "0.2*n + 0.5" in dict(net.layers[0].transfer_params)["expression"]
    X = RNG.normal(size=(5, 3))
    assert np.ptp(net.evaluate(X), axis=0).min() > 1e-3   # not saturated: the points test something
    _check(net, _keras2_sequential_forward(weights), X)


def test_keras2_sequential_without_input_layer_in_the_old_list_config(tmp_path):
    """Keras 2.0-2.2: the Sequential config is the list of layers; the first one names the input shape."""
    layers = _keras2_sequential_layers()[1:]
    layers[0]["config"]["batch_input_shape"] = [None, 3]
    weights = _keras2_sequential_weights()
    path = tmp_path / "old.h5"
    path.write_bytes(legacy_h5({"class_name": "Sequential", "config": layers}, weights, keras_version="2.2.4"))
    _check(symnet.load(path), _keras2_sequential_forward(weights), RNG.normal(size=(4, 3)))


# --- Keras 2 Functional -------------------------------------------------------------------

def _ref(name):
    return [name, 0, 0, {}]


@pytest.mark.parametrize("order", ["as_written", "reversed"])
def test_keras2_functional_two_inputs_two_outputs(order, tmp_path):
    """Also with the layers listed against the graph's order (each waits for its inputs)."""
    weights = {"h1": {"kernel": _f32((2, 4)), "bias": _f32(4)}, "out": {"kernel": _f32((7, 2)), "bias": _f32(2)},
               "skip": {"kernel": _f32((3, 2)), "bias": _f32(2)}, "prelu": {"alpha": _f32(2)}}
    layers = [layer("InputLayer", "u", [], batch_input_shape=[None, 2]),
              layer("InputLayer", "v", [], batch_input_shape=[None, 3]),
              dense("h1", 4, "tanh", [[_ref("u")]]),
              layer("Concatenate", "cat", [[_ref("h1"), _ref("v")]], axis=-1),
              dense("out", 2, "linear", [[_ref("cat")]]),
              dense("skip", 2, "linear", [[_ref("v")]]),
              layer("Add", "sum", [[_ref("out"), _ref("skip")]]),
              layer("PReLU", "prelu", [[_ref("sum")]]),
              layer("Activation", "squash", [[_ref("h1")]], activation="sigmoid")]
    layers = layers[::-1] if order == "reversed" else layers
    config = {"class_name": "Model", "config": {"name": "model", "layers": layers,
                                                "input_layers": [["u", 0, 0], ["v", 0, 0]],
                                                "output_layers": [["prelu", 0, 0], ["squash", 0, 0]]}}
    path = tmp_path / "functional.h5"
    path.write_bytes(legacy_h5(config, weights))
    net = symnet.load(path)
    assert [(inp.name, inp.size) for inp in net.inputs] == [("u", 2), ("v", 3)]
    assert [out.name for out in net.outputs] == ["prelu", "squash"]

    def forward(X):
        u, v, w = X[:, :2], X[:, 2:], weights
        h1 = np.tanh(u @ w["h1"]["kernel"] + w["h1"]["bias"])
        out = np.concatenate([h1, v], axis=1) @ w["out"]["kernel"] + w["out"]["bias"]
        total = out + v @ w["skip"]["kernel"] + w["skip"]["bias"]
        prelu = np.maximum(total, 0) - w["prelu"]["alpha"] * np.maximum(-total, 0)
        return np.concatenate([prelu, 1 / (1 + np.exp(-h1))], axis=1)
    _check(net, forward, RNG.normal(size=(5, 5)))


# --- Keras 3 archives written by hand ------------------------------------------------------

def _small_forward(variables):
    (_, _, (k1, b1)), (_, _, (k2, b2)) = variables
    return lambda X: np.tanh(X @ k1 + b1) @ k2 + b2


@pytest.mark.parametrize("activation", ["tanh", {"module": "keras.activations", "class_name": "function",
                                                 "config": "tanh", "registered_name": "function"}],
                         ids=["name", "serialized_function"])
def test_keras3_archive_written_by_hand(activation, tmp_path):
    config, variables = small_keras3_model(settings={"activation": activation})
    path = tmp_path / "small.keras"
    path.write_bytes(keras_archive(config, variables))
    _check(symnet.load(path), _small_forward(variables), RNG.normal(size=(4, 3)))


def test_keras3_archive_found_by_tracked_names_without_name_attributes(tmp_path):
    config, variables = small_keras3_model()
    path = tmp_path / "unnamed.keras"
    path.write_bytes(keras_archive(config, [(tracked, None, arrays) for tracked, _, arrays in variables]))
    _check(symnet.load(path), _small_forward(variables), RNG.normal(size=(4, 3)))


# --- refusals ------------------------------------------------------------------------------

REFUSALS = {
    "convolution": ("Conv2D", {}, r"layer 'hidden' \(Conv2D\): convolution is not supported"),
    "recurrence": ("LSTM", {}, r"layer 'hidden' \(LSTM\): recurrence is not supported"),
    "attention": ("MultiHeadAttention", {}, r"layer 'hidden' \(MultiHeadAttention\): attention is not supported"),
    "lambda": ("Lambda", {"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA"}}},
               r"layer 'hidden' \(Lambda\): a Lambda layer: it holds Python code, which symnet never runs"),
    "unknown_class": ("MyDense", {}, r"layer 'hidden' \(MyDense\): this layer class is not supported"),
    "custom_activation": ("Dense", {"activation": {"module": "my_package.activations", "class_name": "MyAct",
                                                   "config": {}, "registered_name": "my_package>MyAct"}},
                          r"layer 'hidden' \(Dense\): the activation is a custom object"),
    "unknown_activation": ("Dense", {"activation": "sparsemax"},
                           r"layer 'hidden' \(Dense\): activation 'sparsemax' is not supported \(supported: "),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refused_layers_are_named_with_their_class(case, tmp_path):
    class_name, settings, pattern = REFUSALS[case]
    config, variables = small_keras3_model(class_name=class_name, settings=settings)
    path = tmp_path / "refused.keras"
    path.write_bytes(keras_archive(config, variables))
    with pytest.raises(symnet.UnsupportedError, match=pattern) as error:
        symnet.load(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


def test_weights_only_h5_is_refused_with_the_way_out(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(legacy_h5(sequential(_keras2_sequential_layers()), _keras2_sequential_weights(),
                               with_config=False))
    with pytest.raises(symnet.UnsupportedError, match=r"weights only \(save_weights\).*model.save"):
        symnet.load(path)


def test_nested_model_is_refused(tmp_path):
    config, variables = small_keras3_model()
    config["config"]["layers"].insert(1, {"module": "keras", "class_name": "Sequential", "registered_name": None,
                                          "config": {"name": "inner", "layers": []}})
    path = tmp_path / "nested.keras"
    path.write_bytes(keras_archive(config, variables))
    with pytest.raises(symnet.UnsupportedError, match=r"layer 'inner' \(Sequential\): a nested model"):
        symnet.load(path)


def test_image_input_is_refused(tmp_path):
    config, variables = small_keras3_model()
    config["config"]["layers"][0]["config"]["batch_shape"] = [None, 28, 28]
    path = tmp_path / "image.keras"
    path.write_bytes(keras_archive(config, variables))
    with pytest.raises(symnet.UnsupportedError, match=r"input shape \[None, 28, 28\] is not \(batch, features\)"):
        symnet.load(path)


def test_config_json_is_only_read_as_data(tmp_path):
    """A config naming modules and classes anywhere: nothing is imported, the layer is refused."""
    config, variables = small_keras3_model()
    config["config"]["layers"][1]["module"] = "symnet_probe_never_imported"
    path = tmp_path / "module.keras"
    path.write_bytes(keras_archive(config, variables))
    with pytest.raises(symnet.UnsupportedError, match=r"custom object \(from module 'symnet_probe_never_imported'\)"):
        symnet.load(path)
    assert "symnet_probe_never_imported" not in sys.modules
