"""What every target shares: the jinja environment, safe names and comments,
a description of the model for file headers, and how a program is printed."""

import re
from dataclasses import dataclass
from functools import lru_cache

import jinja2

from ..ir.derivative_spec import spec_of

_SAFE_COMMENT_CHARS = re.compile(r"[^A-Za-z0-9 _.,:;=+\-()\[\]<>|^~@$&!?]")
_IDENTIFIER_CHARS = re.compile(r"[^A-Za-z0-9_]")

#: Names no generated file may take whatever its language: those Windows reserves.
#: Each language's own words are its Backend's ``reserved_words``.
RESERVED_FILE_NAMES = frozenset("""
con prn aux nul com1 com2 com3 com4 com5 com6 com7 com8 com9 lpt1 lpt2 lpt3 lpt4 lpt5 lpt6 lpt7
lpt8 lpt9
""".split())


@lru_cache(maxsize=None)
def reserved_words():
    """Lower-case names a safe identifier avoids: every backend's reserved words (a model
    name becomes a name in every language at once) and RESERVED_FILE_NAMES."""
    from . import backends   # here: the backends import this module
    words = set(RESERVED_FILE_NAMES)
    for backend in backends():
        words |= backend.reserved_words
    return frozenset(words)


@lru_cache(maxsize=None)
def environment():
    """The one jinja environment: strict, layout-preserving, no autoescape
    (nothing from a model file reaches a template unsanitized).  The templates are the
    package data of ``symnet.templates``, found through importlib wherever symnet is
    installed (wheel, editable, a checkout on PYTHONPATH).  Made once per process, so
    each template is compiled once (``symnet.derive`` renders its NumPy code in process)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("symnet", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(template_name: str, **context) -> str:
    return environment().get_template(template_name).render(**context)


def safe_identifier(name, fallback="symnet_model"):
    """A name usable as an identifier in every target (C, MATLAB, Python, file names)."""
    text = _IDENTIFIER_CHARS.sub("_", str(name).encode("ascii", "replace").decode("ascii"))
    text = re.sub(r"_+", "_", text).strip("_")
    if not text:
        text = fallback
    if text[0].isdigit():
        text = "net_" + text
    if text.lower() in reserved_words():
        text = text + "_net"
    return text[:48]


def comment_text(text):
    """Text safe inside a one-line comment of any target: printable ASCII without
    comment terminators, backslashes, quotes, braces, template delimiters or C
    trigraphs (??/ is a backslash), at most 120 characters."""
    text = _SAFE_COMMENT_CHARS.sub("_", " ".join(str(text).split()))
    return text.replace("??", "?_")[:120]


class DerivativeTable(dict):
    """A table by derivative name (symnet.ir.derivative_spec) of the whole arrays' entries;
    the entry of any other derivative is ``other(spec)``, so that a new kind of derivative
    needs no entry in every language's tables."""

    def __init__(self, entries, other):
        super().__init__(entries)
        self.other = other

    def __missing__(self, what):
        return self.other(spec_of(what))


#: The name of the function computing each derivative, the same in every language (the
#: canonical name of the derivative beyond the whole arrays: jvp, d2y1_dx1_dx2).
FUNCTION_NAMES = DerivativeTable(
    {"value": "evaluate", "gradient": "gradient", "jacobian": "jacobian", "hessian": "hessian"},
    lambda spec: spec.name)



@dataclass(frozen=True)
class PrintedProgram:
    """A program printed by one target's printer: plain strings for a template."""

    inputs: tuple        # (local name, position)
    assignments: tuple   # (local name, printed expression)
    stores: tuple        # (flat index, row-major index tuple, printed expression)
    shape: tuple
    arguments: tuple = ()   # (local name, argument name, position): the extra arguments' entries read


def print_program(program, printer):
    """Print the assignments and the single block of ``program`` with ``printer``."""
    block = program.blocks[0]
    used = _used_inputs(program)
    inputs = tuple((printer.doprint(x), k) for k, x in enumerate(program.inputs) if x in used)
    assignments = tuple((printer.doprint(a.target), printer.doprint(a.expr)) for a in program.assignments)
    stores = tuple((flat, unravel(flat, block.shape), printer.doprint(entry))
                   for flat, entry in enumerate(block.entries))
    arguments = tuple((printer.doprint(symbol), name, k) for name, symbols in program.arguments
                      for k, symbol in enumerate(symbols) if symbol in used)
    return PrintedProgram(inputs, assignments, stores, tuple(block.shape), arguments)


def _used_inputs(program):
    used = set()
    for assignment in program.assignments:
        used |= assignment.expr.free_symbols
    for entry in program.blocks[0].entries:
        used |= getattr(entry, "free_symbols", set())
    return used


def unravel(flat, shape):
    """The row-major index tuple of position ``flat`` in an array of ``shape``."""
    index = []
    for size in reversed(shape):
        index.append(flat % size)
        flat //= size
    return tuple(reversed(index))


#: Numbers per line in the array literals of every target's layered form.
NUMBERS_PER_LINE = 4


def grouped(texts, separator=", "):
    """The lines of an array literal: ``texts`` joined by ``separator``, NUMBERS_PER_LINE a line."""
    return [separator.join(texts[i:i + NUMBERS_PER_LINE]) for i in range(0, len(texts), NUMBERS_PER_LINE)]
