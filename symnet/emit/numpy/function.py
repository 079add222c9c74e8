"""A derivative as a Python function of a batch, compiled in process from the
layered NumPy code that ``symnet generate --target numpy`` writes.

The function is the generated module's own function for that derivative: the
same layered steps (symnet/layered/schedule.py), the same NumPy statements
(symnet/emit/numpy/layered.py) and template, so it has the generated code's
accuracy and speed.  What the file adds is left out: the self-check and its
30-digit vectors, and the weight literals (the arrays are bound directly, the
same doubles that the literals print to 17 digits).  Building it costs about
as much as generating the NumPy module; nothing goes through sympy at call time.
"""

from ..common import FUNCTION_NAMES
from .layered import layered_module_text
from .printer import ExactNumPyPrinter
from .unrolled import DOCS


def layered_numpy_function(net, what):
    """``f(X)``: the ``what`` ("value", "gradient", "jacobian", "hessian") of ``net`` for
    X of shape (..., n_inputs), the shape of the derivative appended to the batch axes.

    Raises UnsupportedError where the layered form refuses the network (see
    ``symnet.layered.network.layered_network``).
    """
    text, constants = layered_module_text(net, (what,), ExactNumPyPrinter(), DOCS, FUNCTION_NAMES,
                                          literal_constants=False)
    namespace = dict(constants)
    # Executing generated text is safe here: it is symnet's own template filled with
    # statements its printer wrote from the layered steps; every name in it is one
    # symnet made (W1, t2, ...), numbers are printed by repr(float), and nothing read
    # from the model file (names, comments) reaches it (the header is left empty).
    exec(compile(text, f"<symnet layered numpy {what}>", "exec"), namespace)   # noqa: S102
    return namespace[FUNCTION_NAMES[what]]
