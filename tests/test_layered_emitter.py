"""The one layered-emitter interface: every language's emitter has a method for every
kind of step, and a missing one fails naming the step and the language."""

import pytest

from symnet.emit import backends
from symnet.emit.layered_emitter import LayeredEmitter, MissingStepError, missing_steps
from symnet.errors import SymnetError
from symnet.layered.steps import STEP_KINDS, STEP_TYPES, Operand, Reduction, Symmetrize

LAYERED = [backend for backend in backends() if backend.layered_emitter is not None]


def test_the_step_kinds_are_the_step_classes():
    assert STEP_KINDS == ("shift", "linear", "elementwise", "reduction", "scale", "secondorder", "outersum",
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
    step = Reduction((), ((Operand("a", ()), 0),), 3, ())
    with pytest.raises(MissingStepError, match=r"the toy layered emitter has no method for the step Reduction:"
                                               r" define _Partial\.reduction"):
        emitter.emit_step(step)
    assert issubclass(MissingStepError, SymnetError)
    assert "reduction" in missing_steps(_Partial) and "symmetrize" not in missing_steps(_Partial)


def test_what_is_not_a_step_is_refused():
    with pytest.raises(MissingStepError, match="is not a layered step"):
        _Partial().emit_step(Operand("x", ()))


def test_a_reduction_output_reads_units_through_its_temporaries():
    """An output that is a shared subexpression (a temporary) of a per-unit array is per unit
    too; one made of scalars alone is one value per point, which NumPy and MATLAB broadcast."""
    import sympy as sp
    from symnet.emit.layered_common import reads_units
    n, total, shared = sp.Symbol("n"), sp.Symbol("total"), sp.Symbol("t0")
    step = Reduction(((total, "sum", n),), ((shared, n / total), (Operand("a", ()), shared),
                                            (Operand("b", ()), 1 / total)), 3, ((n, Operand("n1", ())),))
    assert reads_units(step, shared) and reads_units(step, n)
    assert not reads_units(step, 1 / total)
