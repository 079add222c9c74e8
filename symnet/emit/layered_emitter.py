"""The interface every language's layered emitter implements: one method per kind of
step of a LayeredProgram (symnet.layered.steps), found by the step's class name, as
sympy's printers find ``_print_<Class>``.  A step kind a language does not implement
fails loudly, naming the step and the language, instead of an AttributeError deep in
an emitter."""

from ..errors import SymnetError
from ..layered.steps import STEP_KINDS


class MissingStepError(SymnetError, NotImplementedError):
    """A layered emitter met a kind of step it has no method for."""


class LayeredEmitter:
    """Base class of the layered emitters: ``emit_step`` calls the method named after the
    step's class, lower case (``linear`` for Linear, ``secondorder`` for SecondOrder).
    What the methods return (lines, template data) is the language's business.

    Subclasses set ``language`` and override every method below.
    """

    language = "unnamed"

    def emit_step(self, step):
        kind = type(step).__name__.lower()
        if kind not in STEP_KINDS:
            raise MissingStepError(f"{type(step).__name__} is not a layered step (the kinds are"
                                   f" {', '.join(STEP_KINDS)})")
        return getattr(self, kind)(step)

    def missing(self, step):
        raise MissingStepError(
            f"the {self.language} layered emitter has no method for the step {type(step).__name__}:"
            f" define {type(self).__name__}.{type(step).__name__.lower()}")

    # --- one method per step kind (symnet.layered.steps.STEP_KINDS) ---------------

    def shift(self, step):
        """x - offset: the inputs, normalization folded in."""
        return self.missing(step)

    def linear(self, step):
        """out = offset + the sum of the terms' matrix products."""
        return self.missing(step)

    def elementwise(self, step):
        """Per-unit statements (transfer functions, slopes, curvatures)."""
        return self.missing(step)

    def reduction(self, step):
        """Scalars over the units (sums, maxima), then per-unit statements: a function of
        the whole layer (softmax, rms_norm), its tangents, adjoints and Hessian terms."""
        return self.missing(step)

    def scale(self, step):
        """A tangent or adjoint through a layer's slope."""
        return self.missing(step)

    def secondorder(self, step):
        """The Hessian's adjoint tangent through an element-wise layer's curvature."""
        return self.missing(step)

    def outersum(self, step):
        """The Hessian as a sum of outer products of tangents weighted by adjoint·curvature."""
        return self.missing(step)

    def gather(self, step):
        """The outputs (or their derivatives) from layer units, scaled and shifted."""
        return self.missing(step)

    def symmetrize(self, step):
        """out = (out + outᵀ)/2 over the Hessian's two input axes."""
        return self.missing(step)

    def outputmap(self, step):
        """u = E(x, y) on the rows with an output map, with the product and chain rule."""
        return self.missing(step)


def missing_steps(emitter_class):
    """The step kinds ``emitter_class`` does not override (empty: it is complete)."""
    return tuple(kind for kind in STEP_KINDS if getattr(emitter_class, kind) is getattr(LayeredEmitter, kind))
