"""Writing the generated files: all or nothing, never torn, never through a symbolic link,
and a notice naming the files replaced."""

import dataclasses
import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO
from symnet import api, cli, output
from symnet.emit import get_target

EXAMPLE = REPO / "examples" / "pxyz.json"
C_FILES = ["pxyz.c", "pxyz.h", "pxyz_check.c"]


@pytest.fixture(scope="module")
def net():
    return api.load(EXAMPLE)


def generate(tmp_path, *args):
    return cli.main(["generate", str(EXAMPLE), "--target", "c", "--derivatives", "value", *map(str, args)])


def one_error_line(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("symnet: error: "), err
    return err


def test_a_symbolic_link_in_the_folder_is_refused_and_its_target_untouched(tmp_path, capsys):
    out, outside = tmp_path / "out", tmp_path / "outside.txt"
    out.mkdir()
    outside.write_text("not yours")
    (out / "pxyz.h").symlink_to(outside)
    assert generate(tmp_path, "--out", out) == 2
    err = one_error_line(capsys)
    assert "pxyz.h" in err and "symbolic link" in err
    assert outside.read_text() == "not yours"
    assert sorted(p.name for p in out.iterdir()) == ["pxyz.h"]   # nothing else written, no temporaries
    assert (out / "pxyz.h").is_symlink()


def test_a_folder_at_a_file_name_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "pxyz_check.c").mkdir(parents=True)
    assert generate(tmp_path, "--out", out) == 2
    assert "pxyz_check.c" in one_error_line(capsys)
    assert sorted(p.name for p in out.iterdir()) == ["pxyz_check.c"]


def test_out_naming_a_file_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "afile").write_text("keep")
    assert generate(tmp_path, "--out", tmp_path / "afile") == 2
    assert "afile: the output folder is a file" in one_error_line(capsys)
    assert (tmp_path / "afile").read_text() == "keep"


def test_a_symbolically_linked_output_folder_is_followed(tmp_path, capsys):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert generate(tmp_path, "--out", tmp_path / "link") == 0
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == C_FILES


def test_replaced_files_are_named_on_stderr(tmp_path, capsys):
    out = tmp_path / "out"
    assert generate(tmp_path, "--out", out) == 0
    assert capsys.readouterr().err == ""
    assert generate(tmp_path, "--out", out) == 0
    captured = capsys.readouterr()
    assert captured.err == f"symnet: replaced 3 existing files in {out}: pxyz.c, pxyz.h, pxyz_check.c\n"
    assert captured.out.split() == [str(out / name) for name in C_FILES]


def test_the_api_logs_the_replaced_files(tmp_path, caplog):
    (tmp_path / "b.txt").write_text("old")
    with caplog.at_level(logging.WARNING, logger="symnet.output"):
        written = output.write_files(tmp_path, {"a.txt": "A", "b.txt": "B"})
    assert written == [tmp_path / "a.txt", tmp_path / "b.txt"]
    assert (tmp_path / "b.txt").read_text() == "B"
    assert [r.getMessage() for r in caplog.records] == [f"replaced 1 existing file in {tmp_path}: b.txt"]


def test_new_files_get_the_usual_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        output.write_files(tmp_path, {"a.txt": "A"})
    finally:
        os.umask(previous)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def test_a_target_failing_after_others_rendered_leaves_no_output(tmp_path, monkeypatch, net):
    rendered = []

    def spy(name):
        target = get_target(name)
        if name == "latex":
            def fail(request):
                raise RuntimeError("latex failed")
            return dataclasses.replace(target, render=fail)

        def render(request):
            rendered.append(name)
            return target.render(request)
        return dataclasses.replace(target, render=render)

    monkeypatch.setattr(api, "get_target", spy)
    out = tmp_path / "out"
    out.mkdir()
    (out / "pxyz.c").write_text("earlier run")
    with pytest.raises(RuntimeError, match="latex failed"):
        api.generate(net, ["python", "c", "latex"], out, derivatives=["value"], strategy="unrolled")
    assert rendered == ["python", "c"]
    assert sorted(p.name for p in out.iterdir()) == ["pxyz.c"]
    assert (out / "pxyz.c").read_text() == "earlier run"


def test_a_write_failing_part_way_leaves_no_output(tmp_path, monkeypatch):
    (tmp_path / "b.txt").write_text("old")
    real, calls = output._write_temporary, []

    def fail_on_third(out_dir, name, data):
        calls.append(name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(out_dir, name, data)

    monkeypatch.setattr(output, "_write_temporary", fail_on_third)
    with pytest.raises(OSError):
        output.write_files(tmp_path, {"a.txt": "A", "b.txt": "B", "c.txt": "C"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt"]
    assert (tmp_path / "b.txt").read_text() == "old"


_WRITER = textwrap.dedent("""
    import sys
    from symnet import api
    net = api.load(sys.argv[1])
    for _ in range(int(sys.argv[3])):
        api.generate(net, ["c", "python"], sys.argv[2], derivatives=["value"], name="net", strategy="unrolled")
""")


def test_concurrent_runs_never_leave_a_torn_or_mixed_file(tmp_path, net):
    """Two processes generate two different models under one name into one folder, while this
    process reads the files: every read, and the final folder, is exactly one model's text."""
    data = json.loads(EXAMPLE.read_text())
    data["layers"][0]["bias"][0] += 1.0
    models = [EXAMPLE, tmp_path / "other.json"]
    models[1].write_text(json.dumps(data))
    expected = []
    for index, model in enumerate(models):
        written = api.generate(api.load(model), ["c", "python"], tmp_path / f"alone{index}",
                               derivatives=["value"], name="net", strategy="unrolled")
        expected.append({path.name: path.read_text() for path in written})
    names = sorted(expected[0])
    assert all(expected[0][name] != expected[1][name] for name in names if name != "net.h")

    out = tmp_path / "out"
    environment = dict(os.environ, PYTHONPATH=str(REPO))
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(model), str(out), "8"], env=environment)
               for model in models]
    reads = 0
    while any(writer.poll() is None for writer in writers):
        for name in names:
            try:
                text = (out / name).read_text()
            except FileNotFoundError:
                continue
            reads += 1
            assert text in (expected[0][name], expected[1][name]), f"torn {name}"
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0]
    final = {path.name: path.read_text() for path in out.iterdir()}
    assert final in expected, "the folder holds files of both models"
    assert reads > 0
