"""Keras model files written by hand with h5py, in the layouts Keras documents: ``.keras``
archives (Keras 3) and legacy HDF5 files as Keras 2 wrote them (Keras 2 is not installable
next to Keras 3).  No Keras needed: the bad-input and fuzz tests use these too."""

import io
import json
import zipfile

import numpy as np


def _h5py():
    from helpers import require_module
    return require_module("h5py")


def keras_archive(config, variables, keras_version="3.5.0", extra_members=None):
    """The bytes of a ``.keras`` zip.

    Args:
        config: the model config (dict, written as config.json).
        variables: [(tracked name, layer name or None, [arrays in creation order])]: the
            ``layers/<tracked>/vars/<i>`` datasets; a layer name becomes the ``name`` attribute.
        extra_members: {member name: bytes} replacing or adding archive members.
    """
    h5py = _h5py()
    weights = io.BytesIO()
    with h5py.File(weights, "w") as handle:
        layers = handle.create_group("layers")
        for tracked, name, arrays in variables:
            group = layers.create_group(f"{tracked}/vars")
            if name is not None:
                group.attrs["name"] = name
            for index, array in enumerate(arrays):
                group[str(index)] = np.asarray(array)
        handle.create_group("vars")
    members = {"metadata.json": json.dumps({"keras_version": keras_version, "date_saved": "2025-01-01@00:00:00"}),
               "config.json": json.dumps(config), "model.weights.h5": weights.getvalue()}
    members.update(extra_members or {})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        for member, data in members.items():
            if data is not None:
                writer.writestr(member, data)
    return archive.getvalue()


def legacy_h5(config, weights, keras_version="2.11.0", with_config=True):
    """The bytes of a Keras 2 ``model.save("x.h5")`` file.

    Args:
        weights: {layer name: {weight name: array}} stored as ``model_weights/<layer>/<layer>/<name>:0``
            and listed in the layer group's ``weight_names`` attribute (Keras 2's layout).
    """
    h5py = _h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        if with_config:
            handle.attrs["model_config"] = json.dumps(config).encode()
        handle.attrs["keras_version"] = keras_version.encode()
        handle.attrs["backend"] = b"tensorflow"
        root = handle.create_group("model_weights") if with_config else handle
        names = [layer.get("config", {}).get("name") for layer in _layers(config)]
        root.attrs["layer_names"] = np.array([n.encode() for n in names])
        for name in names:
            group = root.create_group(name)
            arrays = weights.get(name, {})
            group.attrs["weight_names"] = np.array([f"{name}/{key}:0".encode() for key in arrays])
            for key, array in arrays.items():
                group[f"{name}/{key}:0"] = np.asarray(array, dtype=np.float32)
    return buffer.getvalue()


def _layers(config):
    inner = config["config"]
    return inner["layers"] if isinstance(inner, dict) else inner


# --- model configs ----------------------------------------------------------------------

def layer(class_name, name, inbound=None, **settings):
    """One layer entry; ``inbound``: Keras 2 inbound node lists (Functional), else None (Sequential)."""
    entry = {"class_name": class_name, "config": {"name": name, "trainable": True, "dtype": "float32", **settings}}
    if inbound is not None:
        entry["name"] = name
        entry["inbound_nodes"] = inbound
    return entry


def dense(name, units, activation="linear", inbound=None):
    return layer("Dense", name, inbound, units=units, activation=activation, use_bias=True)


def sequential(layers, name="sequential"):
    return {"class_name": "Sequential", "config": {"name": name, "layers": layers}}


def keras3_sequential(layers, inputs):
    """A Keras 3 Sequential config: an InputLayer first, layers with Keras 3 module fields."""
    entries = [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                "config": {"batch_shape": [None, inputs], "dtype": "float32", "name": "input_layer"}}]
    for entry in layers:
        entries.append({"module": "keras.layers", "registered_name": None, **entry})
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "sequential", "layers": entries}}


def small_keras3_model(rng=None, class_name="Dense", settings=None):
    """(config, variables) of a valid Keras 3 Sequential: 3 inputs, tanh Dense(4), Dense(2)."""
    rng = rng or np.random.default_rng(0)
    first = {"class_name": class_name, "config": {"name": "hidden", "units": 4, "activation": "tanh",
                                                  "use_bias": True, **(settings or {})}}
    second = {"class_name": "Dense", "config": {"name": "out", "units": 2, "activation": "linear", "use_bias": True}}
    config = keras3_sequential([first, second], 3)
    variables = [("dense", "hidden", [rng.normal(size=(3, 4)), rng.normal(size=4)]),
                 ("dense_1", "out", [rng.normal(size=(4, 2)), rng.normal(size=2)])]
    return config, variables
