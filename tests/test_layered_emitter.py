"""The one layered-emitter interface: every language's emitter has a method for every
kind of step, and a missing one fails naming the step and the language."""

import pytest

from symnet.emit import backends
from symnet.emit.layered_emitter import LayeredEmitter, MissingStepError, missing_steps
from symnet.errors import SymnetError
from symnet.layered.steps import STEP_KINDS, STEP_TYPES, Operand, Softmax, Symmetrize

LAYERED = [backend for backend in backends() if backend.layered_emitter is not None]


def test_the_step_kinds_are_the_step_classes():
    assert STEP_KINDS == ("shift", "linear", "elementwise", "softmax", "scale", "secondorder", "outersum",
                          "gather", "symmetrize", "outputmap")
    assert len(STEP_TYPES) == len(STEP_KINDS)


def test_every_language_with_a_layered_form_has_an_emitter():
    assert {backend.name for backend in LAYERED} == {"c", "python", "numpy", "matlab"}


@pytest.mark.parametrize("backend", LAYERED, ids=lambda backend: backend.name)
def test_every_emitter_has_a_method_for_every_step(backend):
    assert issubclass(backend.layered_emitter, LayeredEmitter)
    assert backend.layered_emitter.language == backend.name
    assert missing_steps(backend.layered_emitter) == ()


class _Partial(LayeredEmitter):
    language = "toy"

    def symmetrize(self, step):
        return ["symmetrized " + step.out.name]


def test_a_missing_step_names_the_step_and_the_language():
    emitter = _Partial()
    assert emitter.emit_step(Symmetrize(Operand("h", ("out", "in", "in")))) == ["symmetrized h"]
    step = Softmax(Operand("a", ()), Operand("n", ()), 3)
    with pytest.raises(MissingStepError, match=r"the toy layered emitter has no method for the step Softmax:"
                                               r" define _Partial\.softmax"):
        emitter.emit_step(step)
    assert issubclass(MissingStepError, SymnetError)
    assert "softmax" in missing_steps(_Partial) and "symmetrize" not in missing_steps(_Partial)


def test_what_is_not_a_step_is_refused():
    with pytest.raises(MissingStepError, match="is not a layered step"):
        _Partial().emit_step(Operand("x", ()))
