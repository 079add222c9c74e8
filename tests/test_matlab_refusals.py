"""What the genFunction reader refuses: one line naming the file, the line and the problem."""

import subprocess
import sys

import pytest

import symnet

from conftest import REPO

BASE = """function [y1] = net(x1)
%NET neural network simulation function.
%   x1 = 3xQ matrix, input #1
x1_step1.xoffset = [0;0;0];
x1_step1.gain = [1;1;1];
x1_step1.ymin = -1;
b1 = [0.1;0.2];
IW1_1 = [1 2 3;4 5 6];
b2 = 0.3;
LW2_1 = [1 -1];
Q = size(x1,2);
xp1 = mapminmax_apply(x1,x1_step1);
a1 = tansig_apply(repmat(b1,1,Q) + IW1_1*xp1);
a2 = repmat(b2,1,Q) + LW2_1*a1;
y1 = a2;
end

function y = mapminmax_apply(x,settings)
y = bsxfun(@minus,x,settings.xoffset);
y = bsxfun(@times,y,settings.gain);
y = bsxfun(@plus,y,settings.ymin);
end

function a = tansig_apply(n,~)
a = 2 ./ (1 + exp(-2*n)) - 1;
end
"""

TIME_SERIES_HEADER = """function [Y,Xf,Af] = narx(X,Xi,~)  % <-
x1_step1_xoffset = 0;
x1_step1_gain = 1;
x1_step1_ymin = -1;
b1 = 0.5;
IW1_1 = [0.1 0.2];
isCellX = iscell(X);
if ~isCellX, X = {X}; end;
Xd1 = cell(1,3);
for ts=1:2
    Xd1{ts} = mapminmax_apply(Xi{1,ts},x1_step1_gain,x1_step1_xoffset,x1_step1_ymin);
end
"""

TIME_SERIES_BODY = """function [Y,Xf,Af] = narx(X,~,~)
b1 = 0.5;
IW1_1 = [0.1 0.2];
TS = size(X,2);
Q = size(X{1},2);
for ts=1:TS
    xdts = mod(ts+1,3)+1;
    tapdelay1 = cat(1,Xd1{mod(xdts-[1 2]-1,3)+1});  % <-
    a1 = tansig_apply(repmat(b1,1,Q) + IW1_1*tapdelay1);
end
"""

#: name: (text with the offending line marked '% <-', a phrase of the message)
CASES = {
    "time series (Xi argument)": (TIME_SERIES_HEADER, "time-series networks"),
    "time series (a delay buffer never made)": (TIME_SERIES_BODY, "cat must stack the values of a delay buffer"),
    "no inputs (matrix form)": (BASE.replace("function [y1] = net(x1)", "function [y1] = net()  % <-"),
                                "no network inputs"),
    "no inputs (cell form)": ("function [Y,Xf,Af] = net(~,~,~)  % <-\nY = {};\n", "no network inputs"),
    "unknown helper": (BASE.replace("tansig_apply(", "hardlim_apply(").replace(
        "IW1_1*xp1);", "IW1_1*xp1);  % <-"), "unknown function or helper 'hardlim_apply'"),
    "malformed number": (BASE.replace("b1 = [0.1;0.2];", "b1 = [0.1;0.2.5];  % <-"), "malformed number '0.2.5'"),
    "exponent without digits": (BASE.replace("b2 = 0.3;", "b2 = 3e;  % <-"), "malformed number"),
    "ragged matrix": (BASE.replace("IW1_1 = [1 2 3;4 5 6];", "IW1_1 = [1 2 3;4 5];  % <-"), "different lengths"),
    "Inf": (BASE.replace("b2 = 0.3;", "b2 = Inf;  % <-"), "Inf is not a usable"),
    "NaN inside a matrix": (BASE.replace("LW2_1 = [1 -1];", "LW2_1 = [1 NaN];  % <-"), "NaN is not a usable"),
    "unsupported statement": (BASE.replace("y1 = a2;", "y1 = 10.^a2;  % <-"), "unsupported operator '.^'"),
    "loop other than the time loop": (BASE.replace("y1 = a2;", "for i=1:Q  % <-\nend\ny1 = a2;"),
                                      "unsupported loop"),
    "weights of the wrong shape": (BASE.replace("IW1_1 = [1 2 3;4 5 6];", "IW1_1 = [1 2;4 5];").replace(
        "IW1_1*xp1);", "IW1_1*xp1);  % <-"), "IW1_1 is 2x2, but it takes input 1 (3 values)"),
    "settings of the wrong size": (BASE.replace("x1_step1.gain = [1;1;1];", "x1_step1.gain = [1;1];").replace(
        "xp1 = mapminmax_apply", "xp1 = mapminmax_apply").replace(
        "x1_step1);", "x1_step1);  % <-"), "mapminmax gain has 2 elements, expected 3"),
    "help text smaller than the kept rows": (
        BASE.replace("%   x1 = 3xQ matrix, input #1", "%   x1 = 2xQ matrix, input #1  % <-").replace(
            "x1_step1.ymin = -1;", "x1_step1.ymin = -1;\nx0_step.keep = [1 2 3];").replace(
            "xp1 = mapminmax_apply(x1,x1_step1);",
            "xp1 = removeconstantrows_apply(x1,x0_step);\nxp1 = mapminmax_apply(xp1,x1_step1);") +
        "function y = removeconstantrows_apply(x,settings)\ny = x(settings.keep,:);\nend\n",
        "the help text gives input 1 2 rows"),
    "samples as rows without the transpose": (BASE.replace("Q = size(x1,2);", "Q = size(x1,1);").replace(
        "xp1 = mapminmax_apply(x1,x1_step1);", "xp1 = mapminmax_apply(x1,x1_step1);  % <-"),
        "input 1 is not transposed, but the samples are rows"),
    "variable used before it has a value": (BASE.replace("y1 = a2;", "y1 = a7;  % <-"), "'a7' is used before"),
    "unbalanced bracket": ("function y1 = f(x1)\nb2 = [0.3;  % <-\n", "unbalanced"),
    "not a function file": ("x = 1;  % <-\n", "starts with a function definition"),
    "helper called but not defined": (BASE.replace(
        "function a = tansig_apply(n,~)\na = 2 ./ (1 + exp(-2*n)) - 1;\nend\n", "").replace(
        "IW1_1*xp1);", "IW1_1*xp1);  % <-"), "tansig_apply is called but the file does not define it"),
    "statement between functions": (BASE + "disp(1)  % <-\n", "unexpected 'disp(1)' between functions"),
    "else outside an if block": (BASE.replace("y1 = a2;", "else  % <-\ny1 = a2;"), "else outside an if block"),
    "argument that is not a name": (BASE.replace("function [y1] = net(x1)", "function [y1] = net(x1, 'x')  % <-"),
                                    "is not a valid argument name"),
}


def marked_line(text):
    return next(number for number, line in enumerate(text.splitlines(), start=1) if "% <-" in line)


def test_the_base_file_loads(tmp_path):
    (tmp_path / "net.m").write_text(BASE)
    assert symnet.load(tmp_path / "net.m").n_inputs == 3


@pytest.mark.parametrize("case", list(CASES))
def test_refused_with_file_and_line(case, tmp_path):
    text, phrase = CASES[case]
    path = tmp_path / "net.m"
    path.write_text(text)
    with pytest.raises(symnet.SymnetError) as caught:
        symnet.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{marked_line(text)}: "), message
    assert phrase in message
    assert "\n" not in message


def test_command_line_prints_one_line_and_exits_2(tmp_path):
    text, _ = CASES["unknown helper"]
    (tmp_path / "net.m").write_text(text)
    result = subprocess.run([sys.executable, "-m", "symnet", "inspect", "net.m"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(f"symnet: error: net.m:{marked_line(text)}: unknown function or helper")
    assert result.stderr.count("\n") == 1


def test_command_line_checks_a_genfunction_file_and_takes_input_sizes():
    fixture = REPO / "tests" / "fixtures" / "matlab" / "removeconstantrows_keep_only.m"
    result = subprocess.run([sys.executable, "-m", "symnet", "check", str(fixture), "--input-size", "x1=5"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "jacobian: 5 points" in result.stdout and "ok" in result.stdout
    shown = subprocess.run([sys.executable, "-m", "symnet", "inspect", str(fixture), "--input-size", "x1=5"],
                           capture_output=True, text=True, timeout=120)
    assert "keeps 2 of 5 rows" in shown.stdout


@pytest.mark.parametrize("nesting", ["(" * 100_000 + "0.3" + ")" * 100_000, "- " * 100_000 + "0.3",
                                     "0.3" + " + 0" * 1_000_000, "-(" * 120 + "0.3" + " + 0" * 90 + ")" * 120])
def test_nesting_past_the_reader_s_depth_is_one_line(nesting, tmp_path):
    """100k parentheses or minus signs, a million-term sum, or depth from both together exhausted
    Python's recursion (an internal error); the reader refuses past 200 levels of one expression."""
    path = tmp_path / "net.m"
    path.write_text(BASE.replace("b2 = 0.3;", f"b2 = {nesting};"))
    line = BASE.splitlines().index("b2 = 0.3;") + 1
    with pytest.raises(symnet.SymnetError, match=rf"^{path}:{line}: expression nested more than 200 deep$"):
        symnet.load(path)


def test_nesting_within_the_reader_s_depth_loads(tmp_path):
    """199 levels, in parentheses and in a sum: as deep as the reader goes, and it reads them."""
    for nesting in ("(" * 198 + "0.3" + ")" * 198, "0.3" + " + 0" * 198):
        path = tmp_path / "net.m"
        path.write_text(BASE.replace("b2 = 0.3;", f"b2 = {nesting};"))
        reference = tmp_path / "base.m"
        reference.write_text(BASE)
        X = [[0.1, 0.2, 0.3]]
        assert symnet.load(path).evaluate(X).tolist() == symnet.load(reference).evaluate(X).tolist()
