"""Small trained Keras models (JAX backend) for the Keras importer tests, and their float64
references: each model is built twice from one recipe, once in float32 (trained a few epochs,
then saved) and once with every layer in float64, given the trained weights."""

import os

os.environ["KERAS_BACKEND"] = "jax"   # before keras is imported: no TensorFlow

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras.src.backend.common import dtypes as _keras_dtypes  # noqa: E402

jax.config.update("jax_enable_x64", True)   # else jax computes float64 layers in float32
# Keras's type promotion on the JAX backend turns float64 into float32 on purpose (its table
# BIT64_TO_BIT32_DTYPE, "to be aligned with JAX's default"), so keras.ops.tanh of a float64
# tensor is float32 even with jax x64 on: a Dense(activation="tanh") in float64 would give a
# reference good to 1e-7 only.  With x64 on, JAX computes float64; the table is told so.
# layer_output_dtypes below proves, per test, that every layer of a reference ran in float64.
_keras_dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
layers = keras.layers

N_SAMPLES = 64
INPUT_SCALE = 3.0
INPUT_OFFSET = 1.5


def _dense_activations(dtype, data):
    """Every activation of Dense that the transfer registry has, normalization on both sides."""
    norm = layers.Normalization(dtype=dtype, name="scale_in")
    if data is not None:
        norm.adapt(data[0])
    stack = [keras.Input((3,), name="x", dtype=dtype), norm]
    for units, act in [(5, "tanh"), (5, "sigmoid"), (4, "softplus"), (4, "elu"), (4, "selu"), (4, "gelu"),
                       (4, "swish"), (4, "softsign"), (3, "silu")]:
        stack.append(layers.Dense(units, activation=act, dtype=dtype, name=f"d_{act}"))
    stack += [layers.Dense(2, dtype=dtype, name="out"),
              layers.Normalization(invert=True, mean=[1.0, -2.0], variance=[4.0, 0.25], dtype=dtype, name="unscale")]
    return keras.Sequential(stack, name="dense_activations")


def _kinks(dtype, data):
    """Piecewise activations and activation layers, PReLU, BatchNormalization, Softmax."""
    return keras.Sequential([
        keras.Input((3,), dtype=dtype),
        layers.Rescaling(scale=[0.5, 2.0, -1.0], offset=0.25, dtype=dtype),
        layers.Dense(6, activation="relu", dtype=dtype),
        layers.BatchNormalization(dtype=dtype),
        layers.Dense(6, activation="relu6", dtype=dtype),
        layers.Dense(6, activation="leaky_relu", dtype=dtype),
        layers.Dense(6, activation="hard_sigmoid", dtype=dtype),
        layers.Dense(6, activation="hard_tanh", dtype=dtype),
        layers.Dense(6, dtype=dtype), layers.PReLU(alpha_initializer=keras.initializers.RandomUniform(0.1, 0.5, 1),
                                                   dtype=dtype),
        layers.Dense(5, dtype=dtype), layers.ReLU(max_value=2.0, dtype=dtype),
        layers.Dense(5, dtype=dtype), layers.LeakyReLU(negative_slope=0.1, dtype=dtype),
        layers.Dense(5, dtype=dtype), layers.ELU(alpha=0.7, dtype=dtype),
        layers.Dropout(0.2, dtype=dtype), layers.GaussianNoise(0.1, dtype=dtype),
        layers.Dense(4, dtype=dtype), layers.Activation("tanh", dtype=dtype),
        layers.Dense(3, dtype=dtype), layers.Softmax(dtype=dtype),
    ], name="kinks")


def _functional(dtype, data):
    """Two named inputs and two outputs, branches joined by Concatenate and Add."""
    a = keras.Input((2,), name="a", dtype=dtype)
    b = keras.Input((3,), name="b", dtype=dtype)
    scaled = layers.Rescaling(scale=0.5, offset=-1.0, dtype=dtype, name="rescale_b")(b)
    left = layers.Dense(4, activation="tanh", dtype=dtype, name="left")(a)
    right = layers.Dense(4, activation="gelu", dtype=dtype, name="right")(scaled)
    right = layers.BatchNormalization(dtype=dtype, name="bn")(right)
    right = layers.Activation("sigmoid", dtype=dtype, name="sig")(right)
    joined = layers.Concatenate(dtype=dtype, name="join")([left, right, a])
    hidden = layers.Dense(5, activation="softplus", dtype=dtype, name="hidden")(joined)
    summed = layers.Add(dtype=dtype, name="sum")([layers.Dense(5, dtype=dtype, name="skip")(joined), hidden])
    probabilities = layers.Dense(3, activation="softmax", dtype=dtype, name="probabilities")(summed)
    level = layers.Dense(1, dtype=dtype, name="level")(layers.Concatenate(dtype=dtype)([summed, left]))
    return keras.Model({"a": a, "b": b}, [probabilities, level], name="two_heads")


def _shared_layers(dtype, data):
    """One Dense called on two inputs (a layer with two inbound nodes), Subtract and Average."""
    a = keras.Input((3,), name="a", dtype=dtype)
    b = keras.Input((3,), name="b", dtype=dtype)
    shared = layers.Dense(4, activation="tanh", dtype=dtype, name="shared")
    on_a, on_b = shared(a), shared(b)
    difference = layers.Dense(2, dtype=dtype, name="difference")(layers.Subtract(dtype=dtype)([on_b, on_a]))
    mean = layers.Average(dtype=dtype, name="mean")([on_a, on_b])
    return keras.Model({"a": a, "b": b}, [difference, mean], name="shared_layers")


def _layer_norm(dtype, data):
    """LayerNormalization before an activation layer, and without its shift before a Dense."""
    return keras.Sequential([
        keras.Input((3,), dtype=dtype),
        layers.Dense(4, dtype=dtype), layers.LayerNormalization(dtype=dtype, name="norm"),
        layers.Activation("tanh", dtype=dtype),
        layers.Dense(3, activation="swish", dtype=dtype),
        layers.LayerNormalization(center=False, epsilon=0.01, dtype=dtype, name="scaled_norm"),
        layers.Dense(2, dtype=dtype),
    ], name="layer_norm")


RECIPES = {"dense_activations": _dense_activations, "kinks": _kinks, "functional": _functional,
           "shared_layers": _shared_layers, "layer_norm": _layer_norm}
INPUT_SIZES = {"dense_activations": (3,), "kinks": (3,), "functional": (2, 3), "shared_layers": (3, 3),
               "layer_norm": (3,)}


def sample_inputs(name, count, seed=0):
    """Raw inputs (count, all input elements), away from zero-centred so that normalization matters."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((count, sum(INPUT_SIZES[name]))) * INPUT_SCALE + INPUT_OFFSET


def split(name, X):
    """The model's input structure for a batch of concatenated raw inputs."""
    sizes = INPUT_SIZES[name]
    if len(sizes) == 1:
        return X
    return {"a": X[:, :sizes[0]], "b": X[:, sizes[0]:]}


def concatenated(outputs):
    if isinstance(outputs, (list, tuple)):
        return np.concatenate([np.asarray(o) for o in outputs], axis=1)
    return np.asarray(outputs)


def trained(name, seed=0):
    """The float32 model, fitted for a few epochs."""
    keras.utils.set_random_seed(seed)
    X = sample_inputs(name, N_SAMPLES, seed).astype("float32")
    model = RECIPES[name]("float32", (X,))
    targets = [np.tanh(X[:, :o.shape[-1]] if X.shape[1] >= o.shape[-1] else X[:, :1]) for o in model.outputs]
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(split(name, X), targets if len(targets) > 1 else targets[0], epochs=4, batch_size=16, verbose=0)
    return model


def float64_twin(name, model):
    """The same architecture with every layer in float64, holding the trained weights."""
    twin = RECIPES[name]("float64", None)
    twin.set_weights([np.asarray(w, dtype=np.float64) for w in model.get_weights()])
    for layer in twin.layers:
        # Normalization reads its adapted mean and variance from a copy made by finalize_state
        if isinstance(layer, layers.Normalization):
            layer.finalize_state()
    return twin


def function_of_vector(name, model):
    """f(x) for one concatenated raw input vector, as a jax function (for jacfwd/hessian)."""
    sizes = INPUT_SIZES[name]

    def f(x):
        batch = x[None, :]
        inputs = batch if len(sizes) == 1 else {"a": batch[:, :sizes[0]], "b": batch[:, sizes[0]:]}
        outputs = model(inputs, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return jax.numpy.concatenate([o[0] for o in outputs])
    return f


def jacobians(name, model, X):
    f = jax.jit(jax.vmap(jax.jacfwd(function_of_vector(name, model))))
    return np.asarray(f(jax.numpy.asarray(X, dtype=jax.numpy.float64)))


def hessians(name, model, X):
    f = jax.jit(jax.vmap(jax.hessian(function_of_vector(name, model))))
    return np.asarray(f(jax.numpy.asarray(X, dtype=jax.numpy.float64)))


def layer_output_dtypes(model, X, name):
    """The dtype of every layer's output when ``model`` runs on ``X``: the proof that a
    reference computed in float64 throughout."""
    computed = [layer.output for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    probe = keras.Model(model.inputs, computed)
    inputs = split(name, X)
    inputs = [inputs[tensor.name] for tensor in model.inputs] if isinstance(inputs, dict) else [inputs]
    return {np.asarray(output).dtype.name for output in probe(inputs, training=False)}
