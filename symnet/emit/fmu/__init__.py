"""The ``fmu`` backend: an FMI 2.0 unit (Model Exchange and Co-Simulation in one
archive) whose outputs and directional derivatives are the C backend's closed forms;
with ``--ode N`` a neural ODE xdot = NN(x, u)."""

from ..backend import Backend
from ..c import RESERVED_WORDS
from ..c.literals import c_literal
from .render import render_fmu

BACKEND = Backend(
    name="fmu",
    render=render_fmu,
    summary="FMI 2.0 unit (Model Exchange + Co-Simulation, C sources and a linux64 binary), static or neural ODE",
    strategies=("unrolled", "layered"),
    literal=c_literal,
    index_base=0,
    comment_lines=("/*", "*"),
    reserved_words=RESERVED_WORDS | {"fmi2functions", "fmi2functiontypes", "fmi2typesplatform"},
    files=("{name}.fmu",),
    layered_emitter=None,
)
