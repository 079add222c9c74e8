"""The ``casadi`` backend: C that follows CasADi's external-function ABI (the one acados'
generic external functions use too), so that ``casadi.external("NAME", "./libNAME.so")``
gives the network with its exact Jacobian, Hessian and directional derivatives."""

from ..backend import Backend
from ..c import RESERVED_WORDS as C_RESERVED_WORDS
from ..c.literals import c_literal
from .external import render_casadi

BACKEND = Backend(
    name="casadi",
    render=render_casadi,
    summary="C with CasADi's external-function ABI (casadi.external, acados), double, with its derivatives",
    strategies=("unrolled", "layered"),
    literal=c_literal,
    index_base=0,
    comment_lines=("/*", "*"),
    reserved_words=C_RESERVED_WORDS | frozenset({"casadi_real", "casadi_int"}),
    layered_emitter=None,   # both strategies are the c target's, whose emitter writes the layered form
    # A solver calls the external one point at a time, where the layered C is the faster form
    # from about 20 parameters on (the crossover table of docs/performance.md).
    layered_from_parameters=20,
    files=("{name}_external.c", "{name}_casadi.h", "{name}_casadi.c", "{name}_casadi_check.c"),
)
