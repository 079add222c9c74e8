"""genFunction helpers are read for what their bodies compute, not for their names.

A helper called ``tansig_apply`` whose body computes something else is refused
with its name and line (and GNU Octave, running the edited file, shows that
the file's numbers really change); the spellings MATLAB has written over the
years are accepted and give the same numbers as the corpus fixtures.
"""

import subprocess
import sys

import numpy as np
import pytest

import symnet
from symnet.reference.finite_differences import sample_points

from conftest import REPO
from helpers import require_tool
from octave_runner import OctaveJob, run_octave
from test_matlab_genfunction import CASES, FIXTURES, octave_code

EXAMPLE = REPO / "examples" / "pxyz_genfunction.m"
TANSIG = "a = 2 ./ (1 + exp(-2*n)) - 1;"
MAPMINMAX_APPLY = ("y = bsxfun(@minus,x,settings.xoffset);\ny = bsxfun(@times,y,settings.gain);\n"
                   "y = bsxfun(@plus,y,settings.ymin);")
MAPMINMAX_REVERSE = ("x = bsxfun(@minus,y,settings.ymin);\nx = bsxfun(@rdivide,x,settings.gain);\n"
                     "x = bsxfun(@plus,x,settings.xoffset);")
SOFTMAX_GPU_DIVISION = "else\n    a = numerator ./ denominator;"
SOFTMAX_OLD = """  nmax = max(n,[],1);
  n = bsxfun(@minus,n,nmax);
  numer = exp(n);
  denom = sum(numer,1); 
  denom(denom == 0) = 1;
  a = bsxfun(@rdivide,numer,denom);"""
FLAT_CALL = "mapminmax_apply(X{1,ts},x1_step1_gain,x1_step1_xoffset,x1_step1_ymin)"

#: name: (fixture stem, text replaced, replacement, helper, phrase of the message[, text on the line named,
#: when not the line marked '% <-'])
REFUSED = {
    "logsig under the tansig name": ("pxyz_example", TANSIG, "a = 1 ./ (1 + exp(-n));  % <-",
                                     "tansig_apply", "does not compute tansig"),
    "tansig plus a constant": ("pxyz_example", TANSIG, "a = 2 ./ (1 + exp(-2*n)) - 1 + 5;  % <-",
                               "tansig_apply", "does not compute tansig"),
    "another constant": ("pxyz_example", TANSIG, "a = 2 ./ (1 + exp(-2.5*n)) - 1;  % <-",
                         "tansig_apply", "does not compute tansig"),
    "a call of system": ("pxyz_example", TANSIG, TANSIG + "\nstatus = system('true');  % <-",
                         "tansig_apply", "calls 'system'"),
    "a statement of system": ("pxyz_example", TANSIG, TANSIG + "\nsystem('true')  % <-",
                              "tansig_apply", "unsupported statement"),
    "a fix-up of some elements": ("pxyz_example", TANSIG, TANSIG + "\na(n > 3) = 1;  % <-",
                                  "tansig_apply", "does not compute tansig"),
    "overflow to NaN": ("pxyz_example", TANSIG, "a = (exp(n) - exp(-n)) ./ (exp(n) + exp(-n));  % <-",
                        "tansig_apply", "in double precision it gives nan"),
    "mapminmax without the gain": ("pxyz_example", MAPMINMAX_APPLY,
                                   "y = x - settings.xoffset;\ny = y + settings.ymin;  % <-",
                                   "mapminmax_apply", "does not compute mapminmax"),
    "mapminmax reversed with a product": ("pxyz_example", MAPMINMAX_REVERSE,
                                          MAPMINMAX_REVERSE.replace("rdivide", "times") + "  % <-",
                                          "mapminmax_reverse", "does not compute the reverse of mapminmax"),
    "settings passed in another order": ("fit_flat_cell", FLAT_CALL,
                                         FLAT_CALL.replace("gain,x1_step1_xoffset", "xoffset,x1_step1_gain"),
                                         "mapminmax_apply", "does not compute mapminmax", "y = bsxfun(@plus,y"),
    "softmax overflowing to NaN": ("pattern_softmax_old", SOFTMAX_OLD,
                                   "  e = exp(n);\n  a = e ./ repmat(sum(e,1),size(n,1),1);  % <-",
                                   "softmax_apply", "in double precision it gives nan"),
    "an exact power beyond reach": ("pxyz_example", TANSIG, "a = tanh(n) + 0 * 2^1e300;  % <-",
                                    "tansig_apply", "exponent larger than 64"),
    "an expansion beyond reach": ("pxyz_example", MAPMINMAX_APPLY,
                                  "y = ((x - settings.xoffset) + 1).^64 .* settings.gain + settings.ymin;  % <-",
                                  "mapminmax_apply", "too large to check"),
    "an array beyond reach": ("pxyz_example", TANSIG, "z = nan(1000,1000);  % <-\n" + TANSIG,
                              "tansig_apply", "larger than a helper needs"),
    # the GPU branch is one of two ways through the helper: the message names the helper's first line
    "softmax wrong on a GPU": ("pattern_softmax_new", SOFTMAX_GPU_DIVISION, "else\n    a = numerator;",
                               "softmax_apply", "does not compute softmax", "function a = softmax_apply"),
}

#: the cases where the file's numbers change in Octave (the others change only a side effect or the GPU path)
CHANGES_NUMBERS = [name for name in REFUSED if name not in (
    "a call of system", "a statement of system", "softmax wrong on a GPU", "overflow to NaN",
    "softmax overflowing to NaN", "an exact power beyond reach", "an array beyond reach")]


def source(stem):
    return EXAMPLE if stem == "pxyz_example" else FIXTURES / f"{stem}.m"


def edited(case, directory):
    """The fixture with the case's edit, under the fixture's own name (MATLAB calls a file by its name)."""
    stem, old, new = REFUSED[case][:3]
    path = source(stem)
    text = path.read_text()
    assert text.count(old) == 1, f"{case}: the text to edit is not in {path.name} exactly once"
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / path.name
    target.write_text(text.replace(old, new))
    return target


def named_line(case, path):
    """The line the message must name: marked '% <-', or holding the case's own text."""
    marker = REFUSED[case][5] if len(REFUSED[case]) > 5 else "% <-"
    return next(number for number, line in enumerate(path.read_text().splitlines(), start=1) if marker in line)


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_helper_that_computes_something_else_is_refused(case, tmp_path):
    path = edited(case, tmp_path)
    helper, phrase = REFUSED[case][3:5]
    with pytest.raises(symnet.SymnetError) as caught:
        symnet.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{named_line(case, path)}: helper {helper!r} "), message
    assert phrase in message and "\n" not in message


@pytest.mark.parametrize("case", ["logsig under the tansig name", "a call of system", "mapminmax without the gain"])
def test_the_command_line_refuses_it_on_one_line_with_exit_2(case, tmp_path):
    path = edited(case, tmp_path)
    result = subprocess.run([sys.executable, "-m", "symnet", "inspect", path.name], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"symnet: error: {path.name}:{named_line(case, path)}: helper ")
    assert result.stderr.count("\n") == 1


def test_octave_computes_other_numbers_from_the_refused_files(tmp_path):
    """What the reader would have read by the helpers' names (the unedited file) is not what Octave runs."""
    octave = require_tool("octave-cli")
    paths, expected = [], []
    for index, case in enumerate(CHANGES_NUMBERS):
        paths.append(edited(case, tmp_path / f"case{index}"))
        net = symnet.load(source(REFUSED[case][0]))
        X = sample_points(net, 4, seed=5)
        if REFUSED[case][0] == "pxyz_example":
            X[0] = [300, 0.03, 3]
        expected.append((net, X))
    jobs = []
    for path, case, (net, X) in zip(paths, CHANGES_NUMBERS, expected):
        cell_form, rows, _ = CASES[REFUSED[case][0]]
        jobs.append(OctaveJob(path.parent, [X], octave_code(path, 1, len(net.outputs), cell_form, rows),
                              len(net.outputs)))
    for case, (net, X), result in zip(CHANGES_NUMBERS, expected, run_octave(octave, jobs, tmp_path)):
        assert not isinstance(result, str), f"{case}: Octave failed: {result}"
        theirs, ours = np.concatenate(result, axis=1), net.evaluate(X)
        assert np.max(np.abs(theirs - ours) / np.maximum(np.abs(ours), 1)) > 1e-3, case


#: name: (fixture stem, text replaced, another spelling of the same maths)
SPELLINGS = {
    "tanh": ("pxyz_example", TANSIG, "a = tanh(n);"),
    "tansig with the toolbox's overflow fix-up": (
        "pxyz_example", TANSIG, TANSIG + "\ni = find(~isfinite(a));\na(i) = sign(n(i));"),
    "tansig without spaces": ("pxyz_example", TANSIG, "a = 2./(1+exp(-2.*n))-1;"),
    "mapminmax with implicit expansion": ("pxyz_example", MAPMINMAX_APPLY,
                                          "y = (x - settings.xoffset) .* settings.gain + settings.ymin;"),
    "mapminmax reversed with repmat": (
        "pxyz_example", MAPMINMAX_REVERSE,
        "Q = size(y,2);\nx = (y - repmat(settings.ymin,1,Q)) ./ repmat(settings.gain,1,Q)"
        " + repmat(settings.xoffset,1,Q);"),
    "softmax with Tony's trick": (
        "pattern_softmax_old", SOFTMAX_OLD,
        "  s = size(n,1);\n  nmax = max(n,[],1);\n  numer = exp(n - nmax(ones(s,1),:));\n"
        "  denom = sum(numer);\n  denom(denom == 0) = 1;\n  a = numer ./ denom(ones(s,1),:);"),
    "softmax with implicit expansion": ("pattern_softmax_old", SOFTMAX_OLD,
                                       "  e = exp(n - max(n,[],1));\n  a = e ./ sum(e,1);"),
    "poslin as a product": ("rows_cell_poslin", "a = max(0,n);\na(isnan(n)) = nan;", "a = n .* (n > 0);"),
    "satlin with min and max swapped": ("deep_mixed", "a = max(0,min(1,n));", "a = min(1,max(0,n));"),
}


@pytest.mark.parametrize("case", list(SPELLINGS))
def test_other_spellings_of_the_same_maths_give_the_same_network(case, tmp_path):
    stem, old, new = SPELLINGS[case]
    path = source(stem)
    text = path.read_text()
    assert text.count(old) == 1
    (tmp_path / path.name).write_text(text.replace(old, new))
    original, respelled = symnet.load(path), symnet.load(tmp_path / path.name)
    X = sample_points(original, 5, seed=2)
    assert [layer.transfer for layer in respelled.layers] == [layer.transfer for layer in original.layers]
    assert np.array_equal(respelled.evaluate(X), original.evaluate(X))
