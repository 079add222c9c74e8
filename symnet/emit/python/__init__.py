"""The ``python`` backend: a pure-Python module (``math`` only), one point per call."""

from ...ir.derivative_spec import BEYOND_WHOLE
from ..backend import Backend
from .layered import PythonLayeredEmitter
from .printer import literal
from .unrolled import render_python

#: Lower-case names Python does not accept as an identifier, or that a generated module
#: must not take because it would shadow a module the code imports.
RESERVED_WORDS = frozenset("""
and or not class import from as def del pass lambda yield with assert async await nonlocal is in
none raise except finally elif print exec match case type true false global if else for while
return try break continue
math numpy functools sys os builtins
""".split())

BACKEND = Backend(
    name="python",
    render=render_python,
    summary="pure-Python module using only math, one point per call",
    strategies=("unrolled", "layered"),
    literal=literal,
    index_base=0,
    comment_lines=("#",),
    reserved_words=RESERVED_WORDS,
    directional=BEYOND_WHOLE + ("expression",),
    layered_emitter=PythonLayeredEmitter,
    files=("{name}.py", "{name}_check.py"),
)
