"""Keras import: models built and fitted with Keras 3 (JAX backend, no TensorFlow), saved as
``.keras`` and legacy ``.h5``, read by symnet without Keras, and checked against the Keras
model itself: values against the float32 model that was saved, values, Jacobians and
Hessians against jax.jacfwd / jax.hessian of a float64 twin holding the same weights (each
layer's output proven float64), generated C and NumPy against the same; plus refusals."""

import os
import sys
import zipfile

import numpy as np
import pytest

import symnet
from helpers import require_module
from symnet.reference.finite_differences import central_jacobian, compare

os.environ["KERAS_BACKEND"] = "jax"   # before keras is imported: Keras 3 on JAX, no TensorFlow
require_module("h5py")
require_module("jax")
require_module("keras")

import keras_models  # noqa: E402
import runners  # noqa: E402
from keras_files import keras_archive, small_keras3_model  # noqa: E402

keras = keras_models.keras
FORMATS = (".keras", ".h5")


def _saved(name, folder):
    """A trained model saved in both formats, its float64 twin and reference derivatives."""
    model = keras_models.trained(name)
    paths = {suffix: folder / f"{name}{suffix}" for suffix in FORMATS}
    for path in paths.values():
        model.save(path)
    twin = keras_models.float64_twin(name, model)
    X = keras_models.sample_inputs(name, 4, seed=11)
    return {"name": name, "model": model, "twin": twin, "paths": paths, "X": X,
            "values": keras_models.concatenated(twin(keras_models.split(name, X), training=False)),
            "jacobians": keras_models.jacobians(name, twin, X), "hessians": keras_models.hessians(name, twin, X),
            "nets": {suffix: symnet.load(path) for suffix, path in paths.items()}}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """name -> saved model, each built and fitted once for this module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = _saved(name, tmp_path_factory.mktemp(name))
        return cache[name]
    return get


@pytest.fixture(params=sorted(keras_models.RECIPES))
def saved(request, models):
    return models(request.param)


def test_the_reference_computes_in_float64_throughout(saved):
    assert keras_models.layer_output_dtypes(saved["twin"], saved["X"], saved["name"]) == {"float64"}


@pytest.mark.parametrize("suffix", FORMATS)
def test_values_match_the_saved_float32_model_and_its_float64_twin(saved, suffix):
    net, X, name = saved["nets"][suffix], saved["X"], saved["name"]
    values = net.evaluate(X)
    float32 = keras_models.concatenated(saved["model"](keras_models.split(name, X.astype("float32")),
                                                       training=False)).astype(float)
    assert compare(values[:, None, :], float32[:, None, :]).max_rel_error <= 1e-6
    assert compare(values[:, None, :], saved["values"][:, None, :]).max_rel_error <= 1e-13


@pytest.mark.parametrize("suffix", FORMATS)
def test_jacobian_matches_jax_jacfwd(saved, suffix):
    result = compare(symnet.derive(saved["nets"][suffix], "jacobian")(saved["X"]), saved["jacobians"])
    assert result.max_rel_error <= 1e-10, result


@pytest.mark.parametrize("suffix", FORMATS)
def test_hessian_matches_jax_hessian(saved, suffix):
    result = compare(symnet.derive(saved["nets"][suffix], "hessian")(saved["X"]), saved["hessians"])
    assert result.max_rel_error <= 1e-10, result


def test_jacobian_matches_central_differences_of_the_keras_model(saved):
    name, twin = saved["name"], saved["twin"]

    def keras_values(X):
        return keras_models.concatenated(twin(keras_models.split(name, X), training=False))
    differences = central_jacobian(keras_values, saved["X"], 1e-4 * np.maximum(1.0, np.abs(saved["X"]).max(axis=0)))
    assert compare(saved["jacobians"], differences).max_rel_error <= 1e-6


@pytest.mark.parametrize("target", ["c", "numpy"])
def test_generated_code_matches_keras(saved, target, tmp_path):
    net = saved["nets"][".keras"]
    built = runners.build(target, net, tmp_path, derivatives=("value", "jacobian", "hessian"), name="kerasnet")
    results = built.evaluate_many(("value", "jacobian", "hessian"), saved["X"])
    assert compare(results["value"][:, None, :], saved["values"][:, None, :]).max_rel_error <= 1e-13
    assert compare(results["jacobian"], saved["jacobians"]).max_rel_error <= 1e-10
    assert compare(results["hessian"], saved["hessians"]).max_rel_error <= 1e-10


def test_both_formats_give_the_same_network(saved):
    first, second = (saved["nets"][suffix] for suffix in FORMATS)
    assert [(layer.transfer, layer.size) for layer in first.layers] == \
        [(layer.transfer, layer.size) for layer in second.layers]
    assert np.array_equal(first.evaluate(saved["X"]), second.evaluate(saved["X"]))


# --- what the networks are made of -------------------------------------------------------

def test_normalization_becomes_input_and_output_steps(models):
    net = models("dense_activations")["nets"][".keras"]
    assert [step.kind for step in net.inputs[0].steps] == ["mapstd"]
    assert [step.kind for step in net.outputs[0].steps] == ["mapstd"]
    assert [layer.transfer for layer in net.layers] == ["tansig", "logsig", "softplus", "elu", "selu", "gelu",
                                                        "swish", "elliotsig", "swish", "purelin"]


def test_prelu_is_two_relu_layers_and_batch_normalization_is_folded(models):
    net = models("kinks")["nets"][".keras"]
    transfers = [layer.transfer for layer in net.layers]
    assert transfers == ["poslin", "clip", "leaky_relu", "hard_sigmoid", "clip", "poslin", "poslin", "clip",
                         "leaky_relu", "elu", "tansig", "softmax"]
    assert dict(net.layers[3].transfer_params) == {"alpha": 1.0 / 6.0, "beta": 0.5}   # Keras 3's hard_sigmoid
    assert [source for source, _ in net.layers[7].layer_weights] == [5, 6]           # the PReLU's two halves


def test_functional_inputs_and_outputs_keep_their_names(models):
    net = models("functional")["nets"][".keras"]
    assert [(inp.name, inp.size) for inp in net.inputs] == [("a", 2), ("b", 3)]
    assert [out.name for out in net.outputs] == ["probabilities", "level"]
    assert [step.kind for step in net.inputs[1].steps] == ["affine"]
    # the Add of two branches is one purelin layer, read by both heads
    assert [layer.transfer for layer in net.layers] == ["gelu", "tansig", "logsig", "softplus", "purelin", "softmax",
                                                        "purelin"]


# --- files from other Keras versions and layouts -----------------------------------------

@pytest.mark.parametrize("name", ["kinks", "functional"])
def test_archive_without_layer_names_in_its_weights_is_read_by_tracked_name(models, name, tmp_path):
    """Keras versions before the ``name`` attribute on ``vars``: the tracked names decide
    (a Sequential does not track its InputLayer, a Functional model does)."""
    h5py = require_module("h5py")
    saved = models(name)
    source = saved["paths"][".keras"]
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    weights = tmp_path / "weights.h5"
    weights.write_bytes(members["model.weights.h5"])
    with h5py.File(weights, "r+") as handle:
        handle.visititems(lambda key, item: item.attrs.__delitem__("name") if "name" in item.attrs else None)
    members["model.weights.h5"] = weights.read_bytes()
    target = tmp_path / "unnamed.keras"
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    net = symnet.load(target)
    assert np.array_equal(net.evaluate(saved["X"]), saved["nets"][".keras"].evaluate(saved["X"]))


def test_lambda_layer_saved_by_keras_is_refused_without_running_it(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2),
                              keras.layers.Lambda(lambda x: x * 2.0, name="doubler")])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(symnet.UnsupportedError, match=r"layer 'doubler' \(Lambda\).*Python code"):
        symnet.load(path)


def test_custom_module_named_in_the_config_is_never_imported(tmp_path):
    config, variables = small_keras3_model()
    config["config"]["layers"][1].update(module="symnet_keras_probe_module", registered_name="probe>Hidden")
    path = tmp_path / "custom.keras"
    path.write_bytes(keras_archive(config, variables))
    with pytest.raises(symnet.UnsupportedError, match=r"'hidden' \(Dense\) is a custom object"):
        symnet.load(path)
    assert "symnet_keras_probe_module" not in sys.modules


def test_loading_does_not_import_keras_or_tensorflow(models):
    import subprocess
    saved = models("functional")
    script = ("import sys, symnet; symnet.load(sys.argv[1]); "
              "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))")
    for path in saved["paths"].values():
        result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                                timeout=120, check=True)
        assert result.stdout.strip() == "[]", result.stdout
