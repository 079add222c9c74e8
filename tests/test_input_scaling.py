"""Reading a model takes time and memory in proportion to the file: no quadratic or
exponential step, no decompression past the size limits.  No timing assertions: each test
checks the algorithmic property (work counted, or a size that took minutes before the
change finishing within a generous subprocess timeout)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy.io import loadmat, savemat

import symnet
from conftest import REPO
from hostile_inputs import write_mat_bomb
from symnet.errors import ModelFormatError, SizeLimitError
from symnet.importers import mat_reader, mat_sizes
from test_fuzz_importers import EXAMPLE, mat_struct

# --- JSON ----------------------------------------------------------------------------------


def run_python(code, timeout):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'tests'}"))


def test_a_json_object_of_200k_keys_parses_in_linear_time():
    # the duplicate-key check counted each key in the whole list: 100k keys took 203 s, 200k four times that
    result = run_python("""
        from hostile_inputs import json_object_text
        from symnet.importers.json_format import parse
        assert len(parse(json_object_text(200_000))) == 200_000
        """, timeout=120)
    assert result.returncode == 0, result.stderr


def test_a_repeated_key_among_many_is_still_named():
    from symnet.importers.json_format import parse
    text = '{"b": 1, "a": 2, "c": 3, "b": 4, "a": 5}'
    with pytest.raises(ModelFormatError, match="the key 'a' appears twice in one object"):
        parse(text)


# --- MAT-files -----------------------------------------------------------------------------

def _declared_values(array):
    """The values a loaded variable holds, counted the way MAT-file headers declare them."""
    if array.dtype.names:
        return array.size * (1 + len(array.dtype.names)) + sum(
            _declared_values(array[index][field]) for index in np.ndindex(array.shape) for field in array.dtype.names)
    if array.dtype == object:
        return array.size + sum(_declared_values(item) for item in array.flat)
    if array.dtype.kind == "U":
        return sum(len(text) for text in array.flat)
    return array.size


@pytest.mark.parametrize("compressed", [False, True])
def test_the_header_walk_reads_a_valid_file_to_its_end(tmp_path, compressed):
    path = tmp_path / "net.mat"
    savemat(path, {"before": np.zeros((3, 4)), "symnet_network": mat_struct(symnet.load(EXAMPLE)),
                   "after": "text"}, do_compression=compressed)
    expected = _declared_values(loadmat(path, struct_as_record=True)["symnet_network"])
    assert mat_sizes.check_variable_size(path, "symnet_network") == expected
    assert mat_sizes.check_variable_size(path, "missing") is None
    assert symnet.load(path).n_inputs == 3


def test_a_compressed_array_over_the_limit_is_refused_before_it_is_inflated(tmp_path, monkeypatch):
    rows = mat_sizes.MAX_VALUES // 4096 + 1
    path = tmp_path / "bomb.mat"
    write_mat_bomb(path, rows, 4096)   # 16 kB on disk, 128 MiB as doubles
    started = []
    monkeypatch.setattr(mat_reader.subprocess, "run", lambda *a, **k: started.append(a))
    with pytest.raises(SizeLimitError, match=f"bomb.mat: .*symnet_network.IW, {rows}x4096"):
        symnet.load(path)
    assert started == [], "scipy's reader was started on a file over the size limit"


def test_an_array_just_under_the_limit_is_read(tmp_path):
    path = tmp_path / "big.mat"
    write_mat_bomb(path, 300, 400)
    assert mat_sizes.check_variable_size(path, "symnet_network") == 300 * 400 + 2
    assert loadmat(path, struct_as_record=False)["symnet_network"][0, 0].IW.shape == (300, 400)


def test_data_larger_than_the_limit_is_refused_at_its_tag(tmp_path, monkeypatch):
    monkeypatch.setattr(mat_sizes, "MAX_DATA_BYTES", 1000)
    path = tmp_path / "data.mat"
    write_mat_bomb(path, 40, 40)
    with pytest.raises(SizeLimitError, match="more than 1,000 bytes of data .at symnet_network.IW"):
        mat_sizes.check_variable_size(path, "symnet_network")
