"""Generation is deterministic: the same model gives byte-identical files in every
registered target and strategy, from run to run, across processes with different
PYTHONHASHSEED (sympy keeps sets and dicts of symbols: their order follows the
hash seed), and whatever order the model file lists its keys or parameters in."""

import json
import os
import subprocess
import sys

import pytest

import symnet
from symnet.importers.json_format import network_to_dict, save_json

from helpers import random_network

DERIVATIVES = ("value", "jacobian", "hessian")

SCRIPT = """
import sys
import symnet
net = symnet.load(sys.argv[1])
for target in symnet.emit.target_names():
    for strategy in symnet.emit.get_target(target).strategies:
        symnet.generate(net, [target], f"{sys.argv[2]}/{target}-{strategy}", derivatives=%r,
                        name="model", strategy=strategy)
""" % (DERIVATIVES,)


def model():
    """Several inputs and outputs, cascade links, softmax and parameterized transfer functions."""
    seed = next(s for s in range(200) if _rich(random_network(s, max_width=4)))
    data = network_to_dict(random_network(seed, max_width=4))
    data["layers"][0]["transfer"] = {"name": "softplus", "beta": 1.5, "threshold": 12.0}
    return data


def _rich(net):
    transfers = {layer.transfer for layer in net.layers}
    return len(net.outputs) > 1 and "softmax" in transfers and len(net.inputs) > 1 and len(net.layers) >= 3


def reversed_keys(value):
    """The same JSON value with the keys of every object in reverse order."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def tree(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def generate_in_process(path, folder):
    net = symnet.load(path)
    for target in symnet.emit.target_names():
        for strategy in symnet.emit.get_target(target).strategies:
            symnet.generate(net, [target], folder / f"{target}-{strategy}", derivatives=DERIVATIVES,
                            name="model", strategy=strategy)
    return tree(folder)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("determinism")
    data = model()
    plain, shuffled = folder / "model.json", folder / "shuffled.json"
    plain.write_text(json.dumps(data))
    shuffled.write_text(json.dumps(reversed_keys(data), indent=3))
    return plain, shuffled


def test_every_target_and_strategy_is_covered(model_files, tmp_path):
    files = generate_in_process(model_files[0], tmp_path)
    folders = {name.split("/")[0] for name in files}
    expected = {f"{t}-{s}" for t in symnet.emit.target_names() for s in symnet.emit.get_target(t).strategies}
    assert folders == expected


def test_byte_identical_from_run_to_run_and_whatever_the_key_order(model_files, tmp_path):
    first = generate_in_process(model_files[0], tmp_path / "a")
    again = generate_in_process(model_files[0], tmp_path / "b")
    shuffled = generate_in_process(model_files[1], tmp_path / "c")
    assert first == again
    assert first == shuffled


def test_byte_identical_across_processes_with_different_hash_seeds(model_files, tmp_path):
    trees = []
    for seed in ("0", "1", "2718281"):
        out = tmp_path / seed
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", SCRIPT, str(model_files[0]), str(out)], env=environment,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        trees.append(tree(out))
    assert trees[0], "nothing generated"
    for other in trees[1:]:
        different = sorted(name for name in set(trees[0]) | set(other) if trees[0].get(name) != other.get(name))
        assert not different, different


def test_saving_a_loaded_model_is_byte_identical(model_files, tmp_path):
    save_json(symnet.load(model_files[1]), tmp_path / "a.json")
    save_json(symnet.load(model_files[0]), tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
