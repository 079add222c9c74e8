"""What symnet knows about one output language, in one object.

Each language is a package ``symnet/emit/<language>/`` holding its printer, its
unrolled and layered emitters and a ``BACKEND``: this dataclass, filled with the
language's facts.  The registry (``symnet.emit.BACKENDS``) lists the packages; the
driver, the CLI, safe names and the tests read everything else from the objects.
"""

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Backend:
    """A generation target.

    Attributes:
        name: the name used on the command line.
        render: ``render(request) -> {file name: text}``; pure (the driver writes the files).
        summary: one line for ``--help``.
        strategies: the emission strategies the language implements ("unrolled", "layered").
        literal: ``literal(value) -> text``, the exact source text of one double.
        index_base: the index of an array's first element (0, or 1 in MATLAB).
        comment_lines: what a line of a comment in the generated files starts with (after
            its indentation): the tests hold every text from a model file to them.
        reserved_words: lower-case names the language (or the files next to the generated
            ones) does not accept as an identifier; safe names avoid every backend's.
        files: the names of the files ``render`` writes, as format strings of ``name``
            (the model's safe name) and, for one file per function, ``function``.
        layered_emitter: the language's symnet.emit.layered_emitter.LayeredEmitter
            subclass (None: the language has no layered form of its own).
        layered_from_parameters: where the "auto" strategy turns to the layered form for
            this target (None: the common threshold, LAYERED_FROM_PARAMETERS).
        step_files: (template, file name pattern) pairs of the step function written for a
            dynamic network (symnet.emit.step); empty: the target writes none.
        directional: the kinds of derivative beyond the whole arrays (symnet.ir.derivative_spec:
            "jvp", "vjp", "hvp", "laplacian", "divergence", "partial") the target prints, with
            the extra arguments v, w of those that have them; the driver refuses the others.
        activation_modes: the ``activations`` modes the language honours ("fast": its
            layered form computes tanh and the logistic approximately, symnet.layered.fast).
    """

    name: str
    render: Callable[..., dict[str, str | bytes]]   # render(GenerationRequest)
    summary: str
    strategies: tuple = ("unrolled",)
    literal: Callable = repr
    index_base: int = 0
    comment_lines: tuple = ("#",)
    reserved_words: frozenset = frozenset()
    files: tuple = ()
    layered_emitter: type = None
    layered_from_parameters: int = None
    step_files: tuple = ()
    directional: tuple = ()
    activation_modes: tuple = ("exact",)
