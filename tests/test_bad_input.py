"""Bad model files, tried for real through the command line: every one gives
``symnet: error: <file>: <problem>`` on one line of stderr and exit code 2 —
no traceback, no internal error, no hang, no large allocation.

The corpus is generated here from the bundled example (so it follows the
format): empty, truncated at several points, binary garbage, other encodings,
wrong extensions for every importer, shape mismatches, NaN/Inf, unknown
transfer functions and steps, absurd sizes, deep nesting and huge literals.
"""

import io
import json
import random
import re
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

import symnet
from symnet.cli import main
from symnet.importers import FILE_IMPORTERS
from symnet.importers import json_format

from conftest import REPO

EXAMPLE = REPO / "examples" / "pxyz.json"
GENFUNCTION = REPO / "examples" / "pxyz_genfunction.m"
TEXT = EXAMPLE.read_text()


def changed(change):
    data = json.loads(TEXT)
    change(data)
    return json.dumps(data)


def layer(index):
    return lambda data: data["layers"][index]


def _set(getter, key, value):
    return lambda data: getter(data).__setitem__(key, value)


def _garbage(size, seed=0):
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(size))


FIRST_STEP = lambda data: data["inputs"][0]["processing"][0]  # noqa: E731
IW = lambda data: data["layers"][0]["input_weights"][0]       # noqa: E731

#: case -> (file content, pattern the message must contain)
JSON_CASES = {
    "empty": ("", "invalid JSON at line 1 column 1"),
    "only_whitespace": ("  \n\t\n", "invalid JSON at line 3"),
    **{f"truncated_at_{percent}_percent": (TEXT[:len(TEXT) * percent // 100], "invalid JSON at line")
       for percent in (1, 10, 50, 90, 99)},
    "truncated_before_last_brace": (TEXT.rstrip()[:-1], "invalid JSON at line"),
    "binary_garbage": (_garbage(4000, seed=1), "not UTF-8 text"),
    "nul_bytes": (b"\0" * 64, "invalid JSON"),
    "latin1": (TEXT.replace('"pxyz"', '"caf\xe9"').encode("latin-1"), "not UTF-8 text"),
    "utf16": (TEXT.encode("utf-16"), "not UTF-8 text"),
    "not_an_object": ("[1, 2, 3]", "the top level must be a JSON object"),
    "wrong_version": (changed(lambda d: d.update(format_version=2)), "format_version must be 1"),
    "repeated_key": (TEXT.replace('"format_version": 1', '"format_version": 1, "format_version": 1', 1),
                     "the key 'format_version' appears twice"),
    "unknown_key": (changed(lambda d: d.update(weights=[1])), "unknown key 'weights'"),
    "weights_shape": (changed(_set(IW, "weights", [[1.0, 2.0]] * 10)), "weights IW1_1 has shape 10x2, expected 10x3"),
    "weights_ragged": (changed(_set(IW, "weights", [[1.0, 2.0, 3.0]] * 9 + [[1.0]])), "must be numbers, in a list"),
    "bias_length": (changed(_set(layer(0), "bias", [0.0] * 9)), "has 9 elements, expected 10"),
    "step_length": (changed(_set(FIRST_STEP, "gain", [1.0, 2.0])), "gain has 2 elements, expected 3"),
    "nan_literal": (TEXT.replace('"bias": [', '"bias": [NaN, ', 1), "NaN is not a valid weight value"),
    "infinity_literal": (TEXT.replace('"bias": [', '"bias": [-Infinity, ', 1),
                         "-Infinity is not a valid weight value"),
    "overflowing_literal": (changed(_set(layer(1), "bias", [1.0])).replace('"bias": [1.0]', '"bias": [1e400]'),
                            "contains NaN or Inf"),
    "nan_in_step": (TEXT.replace('"ymin": [', '"ymin": [NaN, ', 1), "NaN is not a valid weight value"),
    "zero_gain": (changed(_set(FIRST_STEP, "gain", [0.0, 1.0, 1.0])), "contains a zero, which cannot be reversed"),
    "unknown_transfer": (changed(_set(layer(0), "transfer", "hardlim")), "unknown transfer function 'hardlim'"),
    "unknown_transfer_parameter": (changed(_set(layer(0), "transfer", {"name": "tansig", "alpha": 1})),
                                   "has no parameter 'alpha'"),
    "transfer_parameter_not_a_number": (changed(_set(layer(0), "transfer", {"name": "elu", "alpha": True})),
                                        "alpha must be a finite number"),
    "softplus_beta_zero": (changed(_set(layer(0), "transfer", {"name": "softplus", "beta": 0})),
                           "beta must not be zero"),
    "unknown_step": (changed(_set(FIRST_STEP, "type", "whiten")), "unknown processing type 'whiten'"),
    "step_type_not_text": (changed(_set(FIRST_STEP, "type", ["mapminmax"])), "unknown processing type"),
    "processing_not_a_list": (changed(_set(lambda d: d["inputs"][0], "processing", 5)), "needs a list 'processing'"),
    "connections_not_a_list": (changed(_set(layer(0), "input_weights", 5)), "needs a list 'input_weights'"),
    "name_not_text": (changed(lambda d: d.update(name={"a": 1})), "'name' must be text"),
    "size_not_integer": (changed(_set(layer(0), "size", 10.0)), "needs an integer 'size'"),
    "negative_size": (changed(_set(layer(0), "size", -3)), "must be a non-negative integer"),
    "layer_of_1e9_units": (changed(_set(layer(0), "size", 10**9)), "is 1000000000, larger than the limit of 100000"),
    "input_of_1e9_values": (changed(_set(lambda d: d["inputs"][0], "size", 10**9)), "larger than the limit"),
    "removeconstantrows_of_1e18_rows": (
        changed(lambda d: d["inputs"][0]["processing"].insert(
            0, {"type": "removeconstantrows", "n_rows": 10**18, "keep": [0, 1, 2]})), "larger than the limit"),
    "keep_not_whole": (changed(lambda d: d["inputs"][0]["processing"].insert(
        0, {"type": "removeconstantrows", "n_rows": 4, "keep": [0, 1.5, 2]})), "must be whole numbers"),
    "reversed_range": (changed(_set(lambda d: d["inputs"][0], "range", [[350, 250], [0.01, 0.05], [1, 5]])),
                       "is not an interval of finite width"),
    "range_wider_than_a_double": (
        changed(_set(lambda d: d["inputs"][0], "range", [[-1e308, 1e308], [0.01, 0.05], [1, 5]])),
        "is not an interval of finite width"),
    "missing_source_layer": (changed(_set(lambda d: d["layers"][1]["layer_weights"][0], "layer", 10**30)),
                             "only earlier layers may feed a layer"),
    "output_of_missing_layer": (changed(_set(lambda d: d["outputs"][0], "layer", 7)), "reads layer 7"),
    "no_layers": (changed(lambda d: d.update(layers=[], outputs=[])), "the network has no layers"),
    "deeply_nested_array": ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    "deeply_nested_weights": (changed(_set(layer(1), "bias", json.loads("[" * 500 + "0" + "]" * 500))),
                              "must be numbers, in a list"),
    "integer_with_5000_digits": (TEXT.replace('"bias": [', '"bias": [' + "7" * 5000 + ", ", 1), "invalid JSON"),
    "integer_too_large_for_a_double": (TEXT.replace('"bias": [', '"bias": [' + "7" * 400 + ", ", 1),
                                       "too large for a double"),
    "transfer_name_of_a_megabyte": (changed(_set(layer(0), "transfer", "x" * 2**20)), "unknown transfer function"),
    "control_characters_in_name": (changed(_set(layer(0), "transfer", "\x1b[2J\x07\r")), "'\\x1b[2J\\x07"),
}


def run_cli(*args):
    """(exit code, stdout, stderr) of the command line, run in this process."""
    import contextlib
    import io
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def assert_clear_error(code, err, path, pattern):
    assert code == 2, err
    assert err.startswith(f"symnet: error: {path}: "), err[:300]
    assert all(c.isprintable() for c in err[:-1]), repr(err[:300])
    assert err.endswith("\n") and err.count("\n") == 1, err[:300]
    assert "Traceback" not in err and "internal error" not in err
    assert len(err) < 1200, len(err)
    assert pattern in err, err[:300]


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_bad_json_model_gives_one_clear_line_and_exit_2(case, tmp_path):
    content, pattern = JSON_CASES[case]
    path = write(tmp_path, f"{case}.json", content)
    code, out, err = run_cli("inspect", path)
    assert_clear_error(code, err, path, pattern)
    assert out == ""


def test_the_corpus_holds_no_accidentally_valid_model(tmp_path):
    """Sanity of the corpus itself: the unmodified example loads."""
    assert symnet.load(write(tmp_path, "ok.json", TEXT)).n_inputs == 3
    assert symnet.load(write(tmp_path, "bom.json", b"\xef\xbb\xbf" + TEXT.encode())).n_inputs == 3


def test_an_absurd_declared_size_fails_fast_without_allocating(tmp_path):
    path = write(tmp_path, "huge.json", JSON_CASES["layer_of_1e9_units"][0])
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(symnet.SizeLimitError, match="larger than the limit"):
        symnet.load(path)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 5 * 2**20, peak     # a 1e9-unit bias vector would be 8 GB


def test_a_file_past_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(json_format, "MAX_FILE_BYTES", 1000)
    path = write(tmp_path, "big.json", TEXT)
    code, _, err = run_cli("inspect", path)
    assert_clear_error(code, err, path, "larger than the limit")


def test_a_folder_named_like_a_model(tmp_path):
    path = tmp_path / "model.json"
    path.mkdir()
    code, _, err = run_cli("inspect", path)
    assert_clear_error(code, err, path, "is a folder")


# --- every importer: files that are not what their extension says -----------------------

FOREIGN = {
    "empty": b"",
    "garbage": _garbage(3000),
    "json_text": TEXT.encode(),
    "truncated_zip": b"PK\x03\x04" + _garbage(200, 2),
    "truncated_matlab": b"MATLAB 5.0 MAT-file" + _garbage(300, 3),
    "genfunction_text": GENFUNCTION.read_bytes()[:700],
}


@pytest.mark.parametrize("suffix", sorted(set(FILE_IMPORTERS) - {".json"}))
@pytest.mark.parametrize("content", sorted(FOREIGN))
def test_every_importer_refuses_files_that_are_not_its_format(suffix, content, tmp_path):
    path = write(tmp_path, f"model{suffix}", FOREIGN[content])
    code, _, err = run_cli("inspect", path)
    assert code == 2, err
    assert re.match(rf"symnet: error: {re.escape(str(path))}(:\d+)?: ", err) and err.count("\n") == 1, err[:400]
    assert "Traceback" not in err


def test_unknown_extension_lists_the_known_ones(tmp_path):
    path = write(tmp_path, "model.pb", TEXT)
    code, _, err = run_cli("inspect", path)
    assert_clear_error(code, err, path, "unknown model file type '.pb'")
    for suffix in FILE_IMPORTERS:
        assert suffix in err


# --- Keras files: odd archives and configs, written with h5py (no Keras needed) -----------

def _keras(change=None, members=None):
    """A .keras archive of the small valid model after ``change(config, variables)``."""
    def make():
        from keras_files import keras_archive, small_keras3_model
        config, variables = small_keras3_model()
        if change:
            change(config, variables)
        return keras_archive(config, variables, extra_members=members)
    return make


def _first_layer(**settings):
    return lambda config, variables: config["config"]["layers"][1].update(**settings)


def _first_arrays(*arrays):
    return lambda config, variables: variables.__setitem__(0, ("dense", "hidden", list(arrays)))


def _h5(**options):
    def make():
        from keras_files import dense, layer, legacy_h5, sequential
        config = sequential([layer("InputLayer", "x", batch_input_shape=[None, 3]), dense("d", 2)])
        weights = options.pop("weights", {"d": {"kernel": np.ones((3, 2)), "bias": np.zeros(2)}})
        return legacy_h5(config, weights, **options)
    return make


def _string_weights():
    import h5py
    from keras_files import dense, layer, legacy_h5, sequential
    data = legacy_h5(sequential([layer("InputLayer", "x", batch_input_shape=[None, 3]), dense("d", 2)]), {})
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as handle:
        group = handle["model_weights/d"]
        group.attrs["weight_names"] = np.array([b"d/kernel:0", b"d/bias:0"])
        group["d/kernel:0"] = np.array([b"1", b"2"])
        group["d/bias:0"] = np.zeros(2)
    return buffer.getvalue()


def _dangling_input(config, variables):
    config.update(class_name="Functional")
    layers = config["config"]["layers"]
    config["config"].update(input_layers=[["input_layer", 0, 0]], output_layers=[["out", 0, 0]])
    layers[0]["config"]["name"] = "input_layer"
    for entry in layers:
        entry["name"] = entry["config"]["name"]
        entry["inbound_nodes"] = []
    layers[2]["inbound_nodes"] = [[["nowhere", 0, 0, {}]]]


#: case -> (suffix, function making the file's bytes, pattern the message must contain)
KERAS_CASES = {
    "keras_without_config": (".keras", _keras(members={"config.json": None}), "the archive has no config.json"),
    "keras_config_not_json": (".keras", _keras(members={"config.json": "{'layers': ["}),
                              "config.json is not valid JSON"),
    "keras_weights_not_hdf5": (".keras", _keras(members={"model.weights.h5": b"\x89HDF garbage"}),
                               "model.weights.h5 in the archive is not an HDF5 file"),
    "keras_not_a_model": (".keras", _keras(lambda c, v: c.update(class_name="Dense")),
                          "the model is a 'Dense', not a Sequential or Functional model"),
    "keras_kernel_of_wrong_width": (".keras", _keras(_first_arrays(np.ones((3, 5)), np.zeros(4))),
                                    "layer 'hidden' (Dense): the kernel has 5 columns for 4 units"),
    "keras_kernel_of_wrong_height": (".keras", _keras(_first_arrays(np.ones((2, 4)), np.zeros(4))),
                                     "the kernel takes 2 features but receives 3"),
    "keras_bias_of_wrong_length": (".keras", _keras(_first_arrays(np.ones((3, 4)), np.zeros(3))),
                                   "the weight 'bias' has shape (3,), expected (4,)"),
    "keras_nan_weights": (".keras", _keras(_first_arrays(np.full((3, 4), np.nan), np.zeros(4))),
                          "layer 'hidden' (Dense): NaN or Inf in the weight 'kernel'"),
    "keras_missing_weights": (".keras", _keras(_first_arrays()), "the weight 'kernel' is missing"),
    "keras_extra_weights": (".keras", _keras(_first_arrays(np.ones((3, 4)), np.zeros(4), np.zeros(4))),
                            "has 3 weight arrays, expected 2 (kernel, bias)"),
    "keras_negative_variance": (".keras", _keras(lambda c, v: (_first_layer(class_name="Normalization", config={
        "name": "hidden", "axis": [-1], "mean": [0, 0, 0], "variance": [1, -1, 1]})(c, v), _first_arrays()(c, v))),
        "a variance is negative"),
    "keras_dangling_input": (".keras", _keras(_dangling_input), "reads 'nowhere', which no layer computes"),
    "keras_hostile_layer_name": (".keras", _keras(_first_layer(class_name="Conv2D", config={
        "name": "\x1b[2J\nevil\u202e"})), "layer '\\x1b[2J\\nevil\\u202e' (Conv2D): convolution"),
    "keras_config_of_a_megabyte": (".keras", _keras(_first_layer(class_name="x" * 2**20)),
                                   "this layer class is not supported"),
    "h5_without_model_config": (".h5", _h5(with_config=False, weights={}), "the file holds weights only"),
    "h5_not_keras": (".h5", lambda: _h5(weights={})().replace(b"model_config", b"other_config"),
                     "no model_config attribute: not a Keras model file"),
    "h5_weights_not_listed": (".h5", lambda: _h5(weights={})().replace(b"weight_names", b"weight_namez"),
                                    "the weight 'kernel' is missing"),
    "h5_string_weights": (".h5", _string_weights, "holds |S1 data, not numbers"),
}


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_bad_keras_model_gives_one_clear_line_and_exit_2(case, tmp_path):
    from helpers import require_module
    require_module("h5py")
    suffix, make, pattern = KERAS_CASES[case]
    path = write(tmp_path, f"{case}{suffix}", make())
    code, out, err = run_cli("inspect", path)
    assert_clear_error(code, err, path, pattern)
    assert out == ""


@pytest.mark.parametrize("member, limit", [("model.weights.h5", "MAX_WEIGHTS_BYTES"),
                                           ("config.json", "MAX_CONFIG_BYTES")])
def test_a_keras_archive_member_past_its_limit_is_refused_before_it_is_read(member, limit, tmp_path, monkeypatch):
    """A zip can hold gigabytes of zeros in a few kilobytes: members are read up to their limit only."""
    from helpers import require_module
    require_module("h5py")
    from symnet.importers import keras_model
    monkeypatch.setattr(keras_model, limit, 500)
    path = write(tmp_path, "big.keras", _keras()())
    code, _, err = run_cli("inspect", path)
    assert_clear_error(code, err, path, f"{member} in the archive is")
    assert "more than the limit of 500" in err


# --- the process as a user runs it ----------------------------------------------------

@pytest.mark.parametrize("command", ["inspect", "check", "generate"])
def test_a_separate_process_prints_one_line_and_exits_2(command, tmp_path):
    path = write(tmp_path, "bad.json", JSON_CASES["weights_shape"][0])
    extra = ["--target", "python", "--out", str(tmp_path / "out")] if command == "generate" else []
    result = subprocess.run([sys.executable, "-m", "symnet", command, str(path), *extra],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_internal_error_is_one_line_unless_debug(monkeypatch):
    """Anything that is not a SymnetError is a bug: a short line and exit 3, the traceback only under --debug."""
    def broken(*args, **kwargs):
        raise ZeroDivisionError("something\nsymnet did wrong")
    monkeypatch.setattr(symnet.api, "load", broken)
    code, _, err = run_cli("inspect", EXAMPLE)
    assert code == 3
    assert err == "symnet: internal error, please report: ZeroDivisionError: something symnet did wrong\n"
    code, _, err = run_cli("--debug", "inspect", EXAMPLE)
    assert code == 3 and "Traceback" in err


def test_a_file_system_refusal_is_not_an_internal_error(tmp_path):
    blocker = write(tmp_path, "file", "")
    code, _, err = run_cli("generate", EXAMPLE, "--target", "python", "--out", blocker / "out")
    assert code == 2 and err.startswith("symnet: error: ") and err.count("\n") == 1, err
