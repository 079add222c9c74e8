"""The command line, run as a user runs it: a separate process."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

EXAMPLE = REPO / "examples" / "pxyz.json"


def symnet(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "symnet", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_inspect_shows_architecture_and_normalization():
    result = symnet("inspect", EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert "layer 1: 10 units, tansig" in result.stdout
    assert "mapminmax" in result.stdout
    assert "parameters: 51" in result.stdout


def test_check_passes_on_the_example_and_prints_errors():
    result = symnet("check", EXAMPLE, "--derivatives", "jacobian,hessian")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "jacobian: 5 points, max abs error" in result.stdout
    assert "hessian:" in result.stdout


def test_check_fails_past_the_tolerance():
    result = symnet("check", EXAMPLE, "--tolerance", "1e-30")
    assert result.returncode == 1
    assert "FAILED" in result.stdout


def test_generate_writes_importable_modules(tmp_path):
    result = symnet("generate", EXAMPLE, "--target", "python", "--target", "numpy",
                    "--derivatives", "value,gradient,jacobian,hessian", "--name", "pxyz", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "pxyz.py", "pxyz_check.py", "pxyz_numpy.py", "pxyz_numpy_check.py"]
    for path in tmp_path.iterdir():
        subprocess.run([sys.executable, "-m", "py_compile", str(path)], check=True)


def test_generate_is_byte_identical_from_run_to_run(tmp_path):
    for folder in ("a", "b"):
        assert symnet("generate", EXAMPLE, "--target", "all", "--out", tmp_path / folder).returncode == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize("content, message", [
    ("{", "invalid JSON"),
    (json.dumps({"format_version": 1, "inputs": [], "layers": [], "outputs": []}), "no inputs"),
])
def test_bad_input_is_one_line_exit_2_no_traceback(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    for command in ("inspect", "check", "generate"):
        extra = ("--target", "python", "--out", tmp_path / "out") if command == "generate" else ()
        result = symnet(command, path, *extra)
        assert result.returncode == 2
        assert result.stderr.startswith(f"symnet: error: {path}: ")
        assert message in result.stderr
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr


def test_missing_file_and_unknown_suffix(tmp_path):
    for path, message in ((tmp_path / "none.json", "no such file"), (tmp_path / "m.pb", "unknown model file type")):
        result = symnet("inspect", path)
        assert result.returncode == 2
        assert message in result.stderr and "Traceback" not in result.stderr


def test_special_files_are_named_for_what_they_are(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    device = tmp_path / "zero.json"
    device.symlink_to("/dev/zero")
    folder = tmp_path / "folder.json"
    folder.mkdir()
    for path, kind in ((fifo, "a FIFO (named pipe)"), (device, "a character device"), (folder, "a folder")):
        result = symnet("inspect", path)
        assert (result.returncode, result.stderr) == (2, f"symnet: error: {path}: is {kind}, not a model file\n")


def test_gradient_of_multi_output_is_a_clear_error(tmp_path):
    data = json.loads(EXAMPLE.read_text())
    data["layers"][1]["size"] = 2
    data["layers"][1]["bias"] = [0.0, 0.0]
    data["layers"][1]["layer_weights"][0]["weights"] *= 2
    data["outputs"][0]["processing"] = []
    path = tmp_path / "two.json"
    path.write_text(json.dumps(data))
    result = symnet("generate", path, "--target", "python", "--derivatives", "gradient", "--out", tmp_path)
    assert result.returncode == 2
    assert "single-output" in result.stderr
