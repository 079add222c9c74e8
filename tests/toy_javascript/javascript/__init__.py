"""The ``javascript`` backend: a CommonJS module for Node.js, one point per call."""

from ..backend import Backend
from .layered import JavaScriptLayeredEmitter
from .printer import literal
from .unrolled import render_javascript

#: Lower-case names JavaScript does not accept as an identifier (its reserved words).
RESERVED_WORDS = frozenset("""
break case catch class const continue debugger default delete do else enum export extends false
finally for function if import in instanceof new null return super switch this throw true try
typeof var void while with yield let static implements interface package private protected public
await arguments eval undefined nan infinity
""".split())

BACKEND = Backend(
    name="javascript",
    render=render_javascript,
    summary="JavaScript (CommonJS) module for Node.js, one point per call",
    strategies=("unrolled", "layered"),
    literal=literal,
    index_base=0,
    comment_lines=("//",),
    reserved_words=RESERVED_WORDS,
    files=("{name}.js",),
    layered_emitter=JavaScriptLayeredEmitter,
)
