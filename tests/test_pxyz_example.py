"""The bundled example as a MATLAB genFunction file: it holds exactly the JSON network,
and the README's first quick-start command (the demo) shows both give the same gradient."""

import subprocess
import sys

import numpy as np

import symnet
from symnet.reference.finite_differences import sample_points
from symnet.importers.json_format import network_to_dict

from conftest import REPO
from helpers import import_file

EXAMPLES = REPO / "examples"


def test_the_committed_m_file_is_what_the_writer_makes_from_the_json():
    writer = import_file(EXAMPLES / "write_genfunction.py", "write_genfunction")
    expected = writer.genfunction_text(symnet.load(EXAMPLES / "pxyz.json"), "pxyz_genfunction")
    assert (EXAMPLES / "pxyz_genfunction.m").read_text() == expected, \
        "run: python examples/write_genfunction.py examples/pxyz.json examples/pxyz_genfunction.m"


def test_the_m_file_holds_the_json_network_exactly():
    from_json, from_m = symnet.load(EXAMPLES / "pxyz.json"), symnet.load(EXAMPLES / "pxyz_genfunction.m")
    numbers = network_to_dict(from_json), network_to_dict(from_m)
    for key in ("layers", "outputs"):
        for a, b in zip(numbers[0][key], numbers[1][key]):
            a.pop("name"), b.pop("name")
            assert a == b
    assert numbers[0]["inputs"][0]["processing"] == numbers[1]["inputs"][0]["processing"]
    X = sample_points(from_json, 50)
    assert np.array_equal(symnet.derive(from_m, "gradient")(X), symnet.derive(from_json, "gradient")(X))


def test_the_demo_runs_and_compares_the_gradients(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / "pxyz_demo.py"), str(tmp_path / "pxyz")],
                            capture_output=True, text=True, timeout=900, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "gradient from the .m file - gradient from the .json file|, 2000 points: 0.0e+00" in result.stdout
    assert "off by the gain ratio" in result.stdout
