"""The ``latex`` backend: index-form equations, a table of constants and, for small
networks, the closed form, in a file to ``\\input`` and a standalone document."""

from ...ir.derivative_spec import BEYOND_WHOLE
from ..backend import Backend
from .printer import latex_number
from .render import render_latex

BACKEND = Backend(
    name="latex",
    render=render_latex,
    summary="LaTeX: index-form equations, constants, closed form (small networks)",
    strategies=("unrolled", "layered"),
    literal=latex_number,
    index_base=1,
    comment_lines=("%",),
    reserved_words=frozenset(),
    files=("{name}_equations.tex", "{name}.tex"),
    directional=BEYOND_WHOLE + ("expression",),   # in their closed form
)
