"""Mutated genFunction files: the reader refuses them with a line, or reads what Octave runs.

Random small edits (a token inserted, a span deleted, two lines swapped) of the
fixtures must never raise anything but a SymnetError that knows its line; and
every edit that the reader accepts, of the main function or of the helpers
after it (whose bodies are read, not recognised by name), must evaluate in
Octave to the same numbers (an edit that breaks the file for MATLAB must not
be read as some other network).
"""

import random
import re
from pathlib import Path

import numpy as np
import pytest

import symnet
from symnet.reference.finite_differences import sample_points
from symnet.importers.matlab_genfunction import read_genfunction

from helpers import require_tool
from octave_runner import OctaveJob, run_octave
from test_matlab_genfunction import CASES, FIXTURES, octave_code

TOKENS = ["[", "]", "(", ")", "{", "}", "'", '"', ";", ",", "...", "%", "=", "*", "+", "-", ".", ":", "~",
          "\n", " ", "x1", "Q", "b1", "a1", "1e", "2", "0.5", "e-3", "Inf", "NaN", "end", "if", "for",
          "function", "IW1_1*", "X{1,ts}", "Y{2,ts}", "@", "#", "%{", "\n%}\n", "1i"]
FILES = sorted(FIXTURES.glob("*.m"))


def mutate(text, rng):
    """``text`` with one to three random edits."""
    for _ in range(rng.randint(1, 3)):
        where = rng.randrange(len(text))
        choice = rng.random()
        if choice < 0.4:
            text = text[:where] + text[where + rng.randint(1, 20):]
        elif choice < 0.8:
            text = text[:where] + rng.choice(TOKENS) + text[where:]
        else:
            lines = text.splitlines()
            a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines) + "\n"
    return text


def test_mutations_are_refused_with_a_line_or_read():
    rng = random.Random(2024)
    outcomes = {"read": 0, "refused": 0}
    for _ in range(2000):
        text = mutate(rng.choice(FILES).read_text(), rng)
        try:
            read_genfunction(text)
            outcomes["read"] += 1
        except symnet.SymnetError as error:
            assert getattr(error, "line", None), f"no line for: {error}"
            outcomes["refused"] += 1
    assert min(outcomes.values()) > 200, outcomes


#: MATLAB's own transfer functions, which a file may call without defining them (Octave has none)
TOOLBOX = {"purelin": "a = n;", "tansig": "a = 2 ./ (1 + exp(-2*n)) - 1;", "logsig": "a = 1 ./ (1 + exp(-n));"}


def toolbox_functions(directory):
    directory.mkdir()
    for name, body in TOOLBOX.items():
        (directory / f"{name}.m").write_text(f"function a = {name}(n)\n{body}\nend\n")
    return directory


def main_function_end(text):
    starts = [m.start() for m in re.finditer(r"^function", text, re.MULTILINE)]
    return starts[1] if len(starts) > 1 else len(text)


@pytest.mark.parametrize("part, seed", [("main function", 7), ("helpers", 8)])
def test_accepted_mutations_evaluate_as_octave_does(part, seed, tmp_path):
    octave = require_tool("octave-cli")
    rng = random.Random(seed)
    toolbox = toolbox_functions(tmp_path / "toolbox")
    jobs, reads = [], []
    while len(jobs) < 300:
        original = rng.choice(FILES)
        text = original.read_text()
        end = main_function_end(text)
        if part == "main function":
            mutated = mutate(text[:end], rng) + text[end:]
        elif end < len(text):
            mutated = text[:end] + mutate(text[end:], rng)
        else:
            continue
        path = tmp_path / f"m{len(jobs)}_{original.stem}.m"
        path.write_text(mutated)
        try:
            net = symnet.load(path)
        except symnet.SymnetError:
            continue
        cell_form, rows, _ = CASES[original.stem]
        X = sample_points(net, 2, seed=1)
        starts = np.cumsum([0] + [inp.size for inp in net.inputs])
        inputs = [X[:, a:b] for a, b in zip(starts[:-1], starts[1:])]
        jobs.append(OctaveJob(tmp_path, inputs, octave_code(path, len(inputs), len(net.outputs), cell_form, rows),
                              len(net.outputs), [toolbox]))
        reads.append((path, net, X))
    failures = []
    for (path, net, X), result in zip(reads, run_octave(octave, jobs, tmp_path)):
        if isinstance(result, str):
            failures.append(f"{path.name}: read by symnet, refused by Octave: {result}")
            continue
        values = np.concatenate(result, axis=1)
        ours = net.evaluate(X)
        scale = np.max(np.abs(values)) if values.size else 1.0
        if ours.shape != values.shape or np.max(np.abs(ours - values)) > 1e-12 * scale:
            failures.append(f"{path.name}: symnet and Octave disagree")
    if failures:
        pytest.fail("\n".join(failures[:10]))
