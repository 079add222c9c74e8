"""Bounded fuzzing of every importer: random bytes, byte-level mutations of a valid
file of each format, and value-level mutations of the JSON and MAT-file models.
Every attempt either loads a Network or raises a SymnetError: no other exception,
no hang (each load runs under a time limit that no importer can catch).
Pickles are fuzzed only on the refusing path: unpickling a fuzzed file would run it.
The budget is small and derandomized in CI; ``pytest --long`` runs many more.
"""

import io
import json
import pickle
import signal
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnet
from symnet.reference.finite_differences import sample_points
from symnet.importers import FILE_IMPORTERS

from conftest import REPO, budget
from helpers import require_module

EXAMPLE = REPO / "examples" / "pxyz.json"
GENFUNCTION = REPO / "examples" / "pxyz_genfunction.m"
SECONDS_PER_LOAD = 20


class Hang(BaseException):
    """Raised by the time limit; a BaseException, so that no importer's ``except Exception`` hides it."""


@contextmanager
def time_limit(seconds):
    def expire(signum, frame):
        raise Hang(f"a load took longer than {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_or_refuse(path):
    """The Network, or None when symnet refused the file with a SymnetError."""
    with time_limit(SECONDS_PER_LOAD):
        try:
            return symnet.load(path)
        except symnet.SymnetError as error:
            assert "\n" not in str(error)
            return None


# --- one valid file of every format ------------------------------------------------------

def _cell(items):
    array = np.empty((1, len(items)), dtype=object)
    for k, item in enumerate(items):
        array[0, k] = item
    return array


def _grid(rows, columns, fill):
    array = np.empty((rows, columns), dtype=object)
    for i in range(rows):
        for j in range(columns):
            array[i, j] = fill(i, j)
    return array


def _processing(steps):
    settings_ = [{"xoffset": s.xoffset[:, None], "gain": s.gain[:, None], "ymin": s.ymin[:, None]} for s in steps]
    return {"processFcns": _cell([s.kind for s in steps]), "processSettings": _cell(settings_)}


def mat_struct(net):
    """The network as the struct matlab/symnet_export.m writes (mapminmax steps only)."""
    layers, n_in = len(net.layers), len(net.inputs)
    iw = {(i, s): w for i, layer in enumerate(net.layers) for s, w in layer.input_weights}
    lw = {(i, s): w for i, layer in enumerate(net.layers) for s, w in layer.layer_weights}
    return {
        "version": 1.0, "name": net.name, "numInputs": float(n_in), "numLayers": float(layers),
        "inputConnect": np.array([[float((i, j) in iw) for j in range(n_in)] for i in range(layers)]),
        "layerConnect": np.array([[float((i, j) in lw) for j in range(layers)] for i in range(layers)]),
        "biasConnect": np.ones((layers, 1)), "outputConnect": np.array([[0.0] * (layers - 1) + [1.0]]),
        "inputs": _cell([{"size": float(inp.size), **_processing(inp.steps)} for inp in net.inputs]),
        "layers": _cell([{"size": float(layer.size), "transferFcn": layer.transfer, "netInputFcn": "netsum"}
                         for layer in net.layers]),
        "IW": _grid(layers, n_in, lambda i, j: iw.get((i, j), np.zeros((0, 0)))),
        "inputWeights": _grid(layers, n_in, lambda i, j: {"weightFcn": "dotprod", "delays": 0.0}),
        "LW": _grid(layers, layers, lambda i, j: lw.get((i, j), np.zeros((0, 0)))),
        "layerWeights": _grid(layers, layers, lambda i, j: {"weightFcn": "dotprod", "delays": 0.0}),
        "b": _cell([layer.bias[:, None] for layer in net.layers]),
        "outputs": _cell([_processing([])] * (layers - 1) + [_processing(net.outputs[0].steps)]),
    }


def mat_bytes(struct):
    from scipy.io import savemat
    buffer = io.BytesIO()
    savemat(buffer, {"symnet_network": struct})
    return buffer.getvalue()


def onnx_bytes():
    onnx = require_module("onnx")
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    weights = {"W1": rng.normal(size=(4, 3)), "B1": rng.normal(size=4), "W2": rng.normal(size=(1, 4)),
               "B2": rng.normal(size=1)}
    nodes = [helper.make_node("Gemm", ["x", "W1", "B1"], ["h"], transB=1, name="dense1"),
             helper.make_node("Tanh", ["h"], ["t"], name="act"),
             helper.make_node("Gemm", ["t", "W2", "B2"], ["y"], transB=1, name="dense2")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1])],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def torch_bytes():
    torch = require_module("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def keras_bytes():
    require_module("h5py")
    from keras_files import keras_archive, small_keras3_model
    return keras_archive(*small_keras3_model())


def h5_bytes():
    require_module("h5py")
    from keras_files import dense, layer, legacy_h5, sequential
    rng = np.random.default_rng(0)
    config = sequential([layer("InputLayer", "x", batch_input_shape=[None, 3]), dense("hidden", 4, "tanh"),
                         dense("out", 1)])
    weights = {"hidden": {"kernel": rng.normal(size=(3, 4)), "bias": rng.normal(size=4)},
               "out": {"kernel": rng.normal(size=(4, 1)), "bias": rng.normal(size=1)}}
    return legacy_h5(config, weights)


_VALID = {}


def valid_file(suffix):
    """The bytes of a valid file of the format ``suffix`` stands for (built once)."""
    if suffix not in _VALID:
        makers = {".json": EXAMPLE.read_bytes, ".m": GENFUNCTION.read_bytes,
                  ".mat": lambda: mat_bytes(mat_struct(symnet.load(EXAMPLE))), ".onnx": onnx_bytes,
                  ".pt": torch_bytes, ".pth": torch_bytes,
                  ".pkl": lambda: pickle.dumps({"weights": [1.0, 2.0]}), ".pickle": lambda: pickle.dumps([1, 2]),
                  ".joblib": lambda: pickle.dumps((1, 2)), ".keras": keras_bytes, ".h5": h5_bytes,
                  ".hdf5": h5_bytes}
        _VALID[suffix] = makers[suffix]()
    return _VALID[suffix]


def test_every_importer_has_a_valid_seed_file_and_the_fuzz_covers_it(tmp_path):
    assert set(FILE_IMPORTERS) <= {".json", ".m", ".mat", ".onnx", ".pt", ".pth", ".pkl", ".pickle", ".joblib",
                                   ".keras", ".h5", ".hdf5"}, "a new importer: give it a valid seed file here"
    for suffix in (".json", ".m", ".mat", ".onnx", ".keras", ".h5", ".hdf5"):
        path = tmp_path / f"valid{suffix}"
        path.write_bytes(valid_file(suffix))
        assert isinstance(load_or_refuse(path), symnet.Network), suffix


# --- bytes ---------------------------------------------------------------------------------

SUFFIXES = st.sampled_from(sorted(FILE_IMPORTERS))


@settings(max_examples=budget(120, 5000))
@given(suffix=SUFFIXES, content=st.binary(max_size=3000))
def test_random_bytes_are_refused_cleanly(suffix, content, tmp_path_factory):
    path = tmp_path_factory.mktemp("bytes") / f"fuzz{suffix}"
    path.write_bytes(content)
    load_or_refuse(path)


EDITS = st.lists(st.tuples(st.sampled_from(["flip", "delete", "insert", "duplicate", "truncate", "zero"]),
                           st.floats(0, 1), st.integers(1, 64), st.binary(min_size=1, max_size=16)),
                 min_size=1, max_size=4)


def mutate(data, edits):
    data = bytearray(data)
    for kind, where, length, payload in edits:
        at = min(int(where * len(data)), max(len(data) - 1, 0))
        if kind == "flip" and data:
            data[at] ^= payload[0] or 1
        elif kind == "delete":
            del data[at:at + length]
        elif kind == "insert":
            data[at:at] = payload
        elif kind == "duplicate":
            data[at:at] = data[at:at + length]
        elif kind == "truncate":
            del data[at:]
        elif kind == "zero":
            data[at:at + length] = bytes(len(data[at:at + length]))
    return bytes(data)


@settings(max_examples=budget(150, 5000))
@given(suffix=SUFFIXES, edits=EDITS)
def test_mutated_valid_files_load_or_are_refused_cleanly(suffix, edits, tmp_path_factory):
    path = tmp_path_factory.mktemp("mutated") / f"fuzz{suffix}"
    path.write_bytes(mutate(valid_file(suffix), edits))
    net = load_or_refuse(path)
    if net is not None:
        with np.errstate(all="ignore"):
            net.evaluate(sample_points(net, 2))


# --- values --------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def _places(value, path=()):
    """Every path into a JSON value (dict keys and list indices)."""
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _places(item, path + (key,))


def _replace(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


@settings(max_examples=budget(150, 5000))
@given(data=st.data())
def test_json_with_any_value_anywhere_loads_or_is_refused_cleanly(data, tmp_path_factory):
    model = json.loads(EXAMPLE.read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        places = list(_places(model))
        model = _replace(model, data.draw(st.sampled_from(places)), data.draw(JSON_VALUES))
    path = tmp_path_factory.mktemp("json") / "fuzz.json"
    path.write_text(json.dumps(model))
    net = load_or_refuse(path)
    if net is not None:
        with np.errstate(all="ignore"):
            net.evaluate(sample_points(net, 2))


@settings(max_examples=budget(60, 5000))
@given(data=st.data(), legacy=st.booleans())
def test_keras_config_with_any_value_anywhere_loads_or_is_refused_cleanly(data, legacy, tmp_path_factory):
    """The config of a .keras archive (or an .h5 model_config) with values replaced anywhere."""
    require_module("h5py")
    from keras_files import keras_archive, small_keras3_model
    config, variables = small_keras3_model()
    for _ in range(data.draw(st.integers(1, 3))):
        config = _replace(config, data.draw(st.sampled_from(list(_places(config)))), data.draw(JSON_VALUES))
    folder = tmp_path_factory.mktemp("keras")
    if legacy:
        import h5py
        path = folder / "fuzz.h5"
        path.write_bytes(h5_bytes())
        with h5py.File(path, "r+") as handle:
            handle.attrs["model_config"] = json.dumps(config)
    else:
        path = folder / "fuzz.keras"
        path.write_bytes(keras_archive(config, variables))
    net = load_or_refuse(path)
    if net is not None:
        with np.errstate(all="ignore"):
            net.evaluate(sample_points(net, 2))


MAT_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10**6).map(float), st.text(max_size=12),
    st.lists(st.floats(-1e3, 1e3), max_size=5).map(np.array),
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=4).map(lambda v: np.array(v)[:, None]),
    st.just(np.zeros((0, 0))), st.just({"weightFcn": "dotprod"}), st.lists(st.text(max_size=6), max_size=3).map(_cell))


def _mat_places(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _mat_places(item, path + (key,))
    elif isinstance(value, np.ndarray) and value.dtype == object:
        for index in np.ndindex(value.shape):
            yield from _mat_places(value[index], path + (index,))


def _mat_replace(value, path, new):
    if not path:
        return new
    if isinstance(value, dict):
        return {**value, path[0]: _mat_replace(value[path[0]], path[1:], new)}
    copy = value.copy()
    copy[path[0]] = _mat_replace(value[path[0]], path[1:], new)
    return copy


@settings(max_examples=budget(15, 1000))   # each MAT-file is read in a child process (~0.5 s)
@given(data=st.data())
def test_mat_file_with_any_value_anywhere_loads_or_is_refused_cleanly(data, tmp_path_factory):
    struct = mat_struct(symnet.load(EXAMPLE))
    for _ in range(data.draw(st.integers(1, 2))):
        struct = _mat_replace(struct, data.draw(st.sampled_from(list(_mat_places(struct))[1:])),
                              data.draw(MAT_VALUES))
    path = tmp_path_factory.mktemp("mat") / "fuzz.mat"
    try:
        path.write_bytes(mat_bytes(struct))
    except Exception:   # scipy cannot write every mutated value: nothing to test then
        return
    net = load_or_refuse(path)
    if net is not None:
        with np.errstate(all="ignore"):
            net.evaluate(sample_points(net, 2))
