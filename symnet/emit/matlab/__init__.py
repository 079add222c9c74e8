"""The ``matlab`` backend: MATLAB/Octave function files vectorized over columns,
and a self-check function."""

from ...ir.derivative_spec import BEYOND_WHOLE
from ..backend import Backend
from .layered import MatlabLayeredEmitter
from .printer import literal
from .unrolled import render_matlab

#: Lower-case names MATLAB or GNU Octave do not accept as a function or variable name
#: (keywords, and the constants a generated function would shadow).
RESERVED_WORDS = frozenset("""
break case catch continue else elseif end for function global if otherwise parfor persistent
return spmd switch try while classdef methods properties events enumeration import
endfunction endif endfor endwhile endswitch end_try_catch end_unwind_protect unwind_protect
ans pi eps inf nan i j e
""".split())

BACKEND = Backend(
    name="matlab",
    render=render_matlab,
    summary="MATLAB/Octave function files vectorized over columns, with a self-check",
    strategies=("unrolled", "layered"),
    literal=literal,
    index_base=1,
    comment_lines=("%",),
    reserved_words=RESERVED_WORDS,
    directional=BEYOND_WHOLE + ("expression",),
    layered_emitter=MatlabLayeredEmitter,
    files=("{name}_{function}.m", "{name}_check.m"),
    step_files=(("matlab/step.m.j2", "{name}_step.m"),),
)
