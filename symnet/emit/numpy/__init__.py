"""The ``numpy`` backend: the functions of ``python``, vectorized over a batch of points."""

from ...ir.derivative_spec import BEYOND_WHOLE
from ..backend import Backend
from .layered import NumPyLayeredEmitter
from ..python import RESERVED_WORDS
from .printer import literal
from .unrolled import render_numpy

BACKEND = Backend(
    name="numpy",
    render=render_numpy,
    summary="NumPy module, vectorized over a batch of points",
    strategies=("unrolled", "layered"),
    literal=literal,
    index_base=0,
    comment_lines=("#",),
    reserved_words=RESERVED_WORDS,
    directional=BEYOND_WHOLE + ("expression",),
    layered_emitter=NumPyLayeredEmitter,
    files=("{name}_numpy.py", "{name}_numpy_check.py"),
    step_files=(("numpy/step.py.j2", "{name}_numpy_step.py"),),
)
