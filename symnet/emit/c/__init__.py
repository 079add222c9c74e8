"""The ``c`` backend: a C99 header and source (``<math.h>`` only), double or float,
and a self-check program."""

from ...ir.derivative_spec import BEYOND_WHOLE
from ..backend import Backend
from .layered import CLayeredEmitter
from .literals import c_literal
from .unrolled import render_c

#: Lower-case names C and C++ do not accept as an identifier, and the standard headers
#: a generated file must not take the name of (math.h would shadow <math.h> under -I.).
RESERVED_WORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline
int long register restrict return short signed sizeof static struct switch typedef union unsigned
void volatile while class namespace template typename this new delete operator private public
protected virtual friend bool true false catch try throw and or not xor
math cmath stddef stdio stdlib string float limits errno complex tgmath fenv
""".split())

BACKEND = Backend(
    name="c",
    render=render_c,
    summary="C99 header and source (math.h only), double or float, with a self-check",
    strategies=("unrolled", "layered"),
    literal=c_literal,
    index_base=0,
    comment_lines=("/*", "*"),
    reserved_words=RESERVED_WORDS,
    directional=BEYOND_WHOLE + ("expression",),
    layered_emitter=CLayeredEmitter,
    files=("{name}.h", "{name}.c", "{name}_check.c"),
    step_files=(("c/step.h.j2", "{name}_step.h"), ("c/step.c.j2", "{name}_step.c")),
    activation_modes=("exact", "fast"),
)
