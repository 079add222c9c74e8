"""MATLAB time-series networks (timedelaynet, narxnet, layrecnet) read from genFunction files.

A dynamic network is read as its one-step map: a static Network whose raw inputs are the
current inputs and every delay state, and whose outputs are the network's outputs and the
layer outputs that are fed back. GNU Octave runs the same files over sequences; symnet's
values and Jacobians must match them.
"""

import numpy as np
import pytest

import symnet

from helpers import require_tool
from octave_runner import OctaveJob, run_octave

STATIC_WITH_IGNORED_STATES = """function [Y,Xf,Af] = {name}(X,~,~)
b1 = [0.1;0.2];
IW1_1 = [1 2 3;4 5 6];
b2 = 0.3;
LW2_1 = [1 -1];
Q = size(X,2);
a1 = tansig_apply(repmat(b1,1,Q) + IW1_1*X);
Y = repmat(b2,1,Q) + LW2_1*a1;
Xf = [];
Af = cell(2,0);
end

function a = tansig_apply(n,~)
a = 2 ./ (1 + exp(-2*n)) - 1;
end
"""


def test_a_static_network_with_ignored_delay_states_matches_octave(tmp_path):
    octave = require_tool("octave-cli")
    path = tmp_path / "ignored_states.m"
    path.write_text(STATIC_WITH_IGNORED_STATES.format(name=path.stem))
    net = symnet.load(path)
    assert [inp.name for inp in net.inputs] == ["X"] and [out.name for out in net.outputs] == ["Y"]
    X = np.random.default_rng(4).normal(size=(5, 3))
    job = OctaveJob(tmp_path, [X], f"[y1,xf,af] = {path.stem}(x1);\nassert(isempty(xf) && isempty(af));", 1)
    result = run_octave(octave, [job], tmp_path)[0]
    assert not isinstance(result, str), result
    assert np.max(np.abs(net.evaluate(X) - result[0])) <= 1e-14


@pytest.mark.parametrize("edit, problem, phrase", [
    ("Xf = [];", "Xf = [1 2];", "Xf holds delay states"),
    ("Xf = [];", "", "'Xf' is never assigned"),
    ("(X,~,~)", "(~,X,~)", "no network inputs"),
    ("(X,~,~)", "(X,~,W)", "an ignored parameter '~' before a network input"),
])
def test_a_static_network_s_states_must_be_empty_and_ignored_last(edit, problem, phrase, tmp_path):
    path = tmp_path / "bad_states.m"
    path.write_text(STATIC_WITH_IGNORED_STATES.replace(edit, problem).format(name=path.stem))
    with pytest.raises(symnet.SymnetError) as caught:
        symnet.load(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert phrase in message
