"""symnet's JSON format: bit-exact round trip and clear errors."""

import json

import numpy as np
import pytest

import symnet
from symnet.importers.json_format import network_to_dict, save_json

from helpers import random_network


def arrays_of(net):
    """Every number of the network, in a fixed order."""
    values = []
    for inp in net.inputs:
        for step in inp.steps:
            values += [np.asarray(getattr(step, f), dtype=float) for f in step.numeric_fields]
    for layer in net.layers:
        values.append(layer.bias)
        values += [w for _, w in layer.input_weights + layer.layer_weights]
    for out in net.outputs:
        for step in out.steps:
            values += [np.asarray(getattr(step, f), dtype=float) for f in step.numeric_fields]
    return values


@pytest.mark.parametrize("seed", range(8))
def test_round_trip_is_bit_exact(seed, tmp_path):
    net = random_network(seed)
    path = tmp_path / "net.json"
    save_json(net, path)
    again = symnet.load(path)
    before, after = arrays_of(net), arrays_of(again)
    assert len(before) == len(after)
    for a, b in zip(before, after):
        assert a.tobytes() == b.tobytes()
    assert network_to_dict(again) == network_to_dict(net)
    save_json(again, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


def test_awkward_doubles_survive(tmp_path):
    values = [0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, np.nextafter(1.0, 2.0)]
    net = symnet.Network([symnet.Input("x", 1)],
                         [symnet.Layer(len(values), "purelin", values, [(0, np.ones((len(values), 1)))])],
                         [symnet.Output("y", 0)])
    save_json(net, tmp_path / "n.json")
    assert symnet.load(tmp_path / "n.json").layers[0].bias.tobytes() == np.array(values).tobytes()


def minimal():
    return {"format_version": 1, "name": "m",
            "inputs": [{"name": "x", "size": 2, "processing": [
                {"type": "mapminmax", "xoffset": [0, 1], "gain": [1, 2], "ymin": -1}]}],
            "layers": [{"size": 3, "transfer": "tansig", "bias": [0, 0, 0],
                        "input_weights": [{"input": 1, "weights": [[1, 2], [3, 4], [5, 6]]}]},
                       {"size": 1, "transfer": "purelin", "bias": [0],
                        "layer_weights": [{"layer": 1, "weights": [[1, 1, 1]]}]}],
            "outputs": [{"name": "y", "layer": 2}]}


def write(tmp_path, data, name="model.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_minimal_model_loads(tmp_path):
    net = symnet.load(write(tmp_path, minimal()))
    assert (net.n_inputs, net.n_outputs, net.parameter_count) == (2, 1, 13)


def broken(change):
    data = minimal()
    change(data)
    return data


CASES = {
    "malformed": ('{"format_version": 1,', r"invalid JSON at line 1"),
    "not an object": ("[1, 2]", "top level must be a JSON object"),
    "wrong version": (broken(lambda d: d.update(format_version=7)), "format_version must be 1"),
    "shape mismatch": (broken(lambda d: d["layers"][0]["input_weights"][0].update(weights=[[1, 2, 3]] * 3)),
                       r"layer 1: weights IW1_1 has shape 3x3, expected 3x2"),
    "bias size": (broken(lambda d: d["layers"][1].update(bias=[1, 2])), "bias .* has 2 elements, expected 1"),
    "unknown transfer": (broken(lambda d: d["layers"][0].update(transfer="hardlim")),
                         "unknown transfer function 'hardlim'"),
    "NaN": ('{"format_version": 1, "inputs": [], "layers": [], "outputs": [], "name": NaN}',
            "NaN is not a valid weight value"),
    "unknown key": (broken(lambda d: d.update(extra=1)), "unknown key 'extra'"),
    "unknown step": (broken(lambda d: d["inputs"][0]["processing"][0].update(type="whiten")),
                     "unknown processing type 'whiten'"),
    "text weights": (broken(lambda d: d["layers"][1].update(bias=["a"])), "must be numbers"),
    "later layer": (broken(lambda d: d["layers"][1]["layer_weights"][0].update(layer=2)),
                    "only earlier layers may feed a layer"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_model_gives_clear_error_naming_the_file(case, tmp_path):
    data, pattern = CASES[case]
    path = write(tmp_path, data)
    with pytest.raises(symnet.SymnetError, match=pattern) as info:
        symnet.load(path)
    assert str(info.value).startswith(str(path) + ": ")
    assert "\n" not in str(info.value)


def test_non_utf8_and_missing_files(tmp_path):
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(symnet.ModelFormatError, match="not UTF-8"):
        symnet.load(path)
    with pytest.raises(symnet.ModelFormatError, match="no such file"):
        symnet.load(tmp_path / "absent.json")
    with pytest.raises(symnet.UnsupportedError, match="unknown model file type '.xyz'"):
        symnet.load(tmp_path / "model.xyz")
