"""Progress on a terminal: a line on stderr when stderr is a terminal and the run
takes longer than the delay, nothing on a pipe, nothing with --quiet."""

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
import time

import pytest

from symnet import progress

from conftest import REPO

EXAMPLE = REPO / "examples" / "pxyz.json"


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Pipe(io.StringIO):
    def isatty(self):
        return False


@pytest.fixture(autouse=True)
def loud():
    progress.set_quiet(False)
    yield
    progress.set_quiet(False)


def run_stages(monkeypatch, stream, delay):
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setenv("SYMNET_PROGRESS_DELAY", str(delay))
    with progress.stage("generate"):
        for _ in progress.over(range(3), "self-check vectors"):
            pass
    return stream.getvalue()


def test_a_terminal_shows_the_stages_and_the_fraction_then_clears_the_line(monkeypatch):
    monkeypatch.setattr(progress, "INTERVAL", 0.0)   # every step shown, not a few a second
    text = run_stages(monkeypatch, Terminal(), delay=0)
    for done in range(4):
        assert f"\rsymnet: generate > self-check vectors {done}/3 (0 s)" in text
    assert "\n" not in text
    assert text.endswith("\r") and text.rsplit("\r", 2)[-2].strip() == ""   # blanked at the end


def test_a_quick_run_prints_nothing(monkeypatch):
    assert run_stages(monkeypatch, Terminal(), delay=60) == ""


def test_a_pipe_gets_nothing(monkeypatch):
    assert run_stages(monkeypatch, Pipe(), delay=0) == ""


def test_quiet_turns_it_off(monkeypatch):
    progress.set_quiet()
    assert run_stages(monkeypatch, Terminal(), delay=0) == ""


def test_a_stage_without_steps_shows_its_elapsed_time(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    monkeypatch.setenv("SYMNET_PROGRESS_DELAY", "0")
    with progress.stage("simplify"):
        time.sleep(4 * progress.INTERVAL)
    assert sys.stderr.getvalue().count("symnet: simplify (") >= 2    # rewritten by the thread


def run_on_terminal(*args, delay="0", stdout_too=False):
    """``symnet ARGS`` with stderr (and stdout if ``stdout_too``) on a pseudo-terminal:
    (return code, stdout, what the terminal got)."""
    main, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))   # 200 columns
    env = dict(os.environ, PYTHONPATH=str(REPO), SYMNET_PROGRESS_DELAY=delay)
    process = subprocess.Popen([sys.executable, "-m", "symnet", *map(str, args)],
                               stdout=follower if stdout_too else subprocess.PIPE,
                               stderr=follower, stdin=subprocess.DEVNULL, env=env, text=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:   # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    stdout = process.stdout.read() if process.stdout else ""
    return process.wait(timeout=300), stdout, b"".join(chunks).decode()


def test_generate_on_a_terminal_shows_progress(tmp_path):
    code, stdout, terminal = run_on_terminal("generate", EXAMPLE, "--target", "c", "--derivatives",
                                             "value,hessian", "--out", tmp_path)
    assert code == 0
    assert "symnet: generate > c: unrolled > self-check vectors > layer 0/2" in terminal
    assert "\n" not in terminal
    assert str(tmp_path / "pxyz.c") in stdout and "symnet:" not in stdout


def test_the_terminal_line_is_cleared_at_the_end(tmp_path):
    _, _, terminal = run_on_terminal("generate", EXAMPLE, "--target", "c", "--out", tmp_path)
    assert terminal.endswith("\r") and terminal.rsplit("\r", 2)[-2].strip() == ""


def test_output_on_the_same_terminal_starts_on_a_clean_line(tmp_path):
    _, _, terminal = run_on_terminal("generate", EXAMPLE, "--target", "c", "--out", tmp_path, stdout_too=True)
    lines = terminal.replace("\r\n", "\n").split("\n")
    printed = [line for line in lines if "pxyz" in line]
    assert len(printed) == 3 and "symnet:" in terminal
    for line in printed:   # what stays visible: the text after the last carriage return
        assert line.rsplit("\r", 1)[-1].startswith(str(tmp_path)), repr(line)


def test_quiet_on_a_terminal_shows_nothing(tmp_path):
    code, _, terminal = run_on_terminal("generate", EXAMPLE, "--target", "c", "--out", tmp_path, "--quiet")
    assert code == 0 and terminal == ""


def test_check_on_a_terminal_shows_the_finite_differences(tmp_path):
    code, _, terminal = run_on_terminal("check", EXAMPLE)
    assert code == 0 and "symnet: check > finite differences" in terminal


def test_a_pipe_shows_nothing_even_for_a_slow_run(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), SYMNET_PROGRESS_DELAY="0")
    result = subprocess.run([sys.executable, "-m", "symnet", "generate", str(EXAMPLE), "--target", "c",
                             "--out", str(tmp_path)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0 and result.stderr == ""
