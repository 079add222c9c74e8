"""Transfer (activation) functions: one registry, each defined once in sympy.

Every element-wise function is a sympy expression of its net input ``n``;
its derivatives come from sympy.  Where a cheaper form of the derivative
exists in terms of the function's own output ``a`` (tanh' = 1 - a**2,
logsig' = a*(1 - a)), the entry states it as ``output_derivative`` and the
test suite proves it equal to sympy's derivative.

Kinks follow the convention of the deep-learning frameworks: at a kink the
derivative takes the value of the side where the function is flat or the
slope is the smaller one (relu'(0) = 0, satlin'(0) = satlin'(1) = 0,
leaky_relu'(0) = alpha, elu'(0) = alpha).  Kinks are written as
``Piecewise`` so that every target prints them as a plain comparison.
"""

from dataclasses import dataclass, field
from typing import Callable, Optional

import sympy as sp

from .errors import UnsupportedError

_n = sp.Symbol("n", real=True)


@dataclass(frozen=True)
class TransferFunction:
    """One entry of the registry.

    Attributes:
        name: canonical name (MATLAB's where MATLAB has one).
        build: ``build(n, **params)`` returns the sympy expression f(n).
        output_derivative: optional ``(a, n, **params) -> f'(n)`` using a = f(n).
        parameters: parameter names with their default values.
        elementwise: False only for functions of the whole layer (softmax).
    """

    name: str
    build: Callable
    output_derivative: Optional[Callable] = None
    parameters: tuple = ()
    elementwise: bool = True
    doc: str = ""

    def expression(self, n, params=()):
        return self.build(n, **dict(params))

    def derivative(self, n, a, params=()):
        """f'(n), written with the output symbol ``a`` where that is cheaper."""
        if self.output_derivative is not None:
            return self.output_derivative(a, n, **dict(params))
        derivative = sp.diff(self.expression(n, params), n)
        return derivative.subs(self.expression(n, params), a)


def _softmax_vector(ns):
    exps = [sp.exp(n) for n in ns]
    total = sp.Add(*exps)
    return [e / total for e in exps]


_ENTRIES = [
    TransferFunction("purelin", lambda n: n, lambda a, n: sp.Integer(1),
                     doc="identity"),
    TransferFunction("tansig", lambda n: sp.tanh(n), lambda a, n: 1 - a**2,
                     doc="hyperbolic tangent"),
    TransferFunction("logsig", lambda n: 1 / (1 + sp.exp(-n)), lambda a, n: a * (1 - a),
                     doc="logistic sigmoid 1/(1+exp(-n))"),
    TransferFunction("poslin", lambda n: sp.Piecewise((0, n <= 0), (n, True)),
                     doc="rectified linear unit max(0, n)"),
    TransferFunction("satlin", lambda n: sp.Piecewise((0, n <= 0), (1, n >= 1), (n, True)),
                     doc="saturating linear, 0 below 0 and 1 above 1"),
    TransferFunction("satlins", lambda n: sp.Piecewise((-1, n <= -1), (1, n >= 1), (n, True)),
                     doc="symmetric saturating linear, -1 below -1 and 1 above 1"),
    TransferFunction("radbas", lambda n: sp.exp(-n**2), lambda a, n: -2 * n * a,
                     doc="radial basis exp(-n^2)"),
    TransferFunction("elliotsig", lambda n: sp.Piecewise((n / (1 - n), n < 0), (n / (1 + n), True)),
                     doc="Elliot sigmoid n/(1+|n|)"),
    TransferFunction("softplus",
                     lambda n, beta=1.0: sp.log(1 + sp.exp(beta * n)) / beta,
                     parameters=(("beta", 1.0),),
                     doc="log(1+exp(beta*n))/beta"),
    TransferFunction("leaky_relu",
                     lambda n, alpha=0.01: sp.Piecewise((alpha * n, n <= 0), (n, True)),
                     parameters=(("alpha", 0.01),),
                     doc="n for n > 0, alpha*n otherwise"),
    TransferFunction("elu",
                     lambda n, alpha=1.0: sp.Piecewise((alpha * (sp.exp(n) - 1), n <= 0), (n, True)),
                     parameters=(("alpha", 1.0),),
                     doc="n for n > 0, alpha*(exp(n)-1) otherwise"),
    TransferFunction("swish", lambda n: n / (1 + sp.exp(-n)),
                     doc="n*logsig(n), also called SiLU"),
    TransferFunction("softmax", _softmax_vector, elementwise=False,
                     doc="exp(n_j)/sum_i exp(n_i) over the layer"),
]

REGISTRY = {entry.name: entry for entry in _ENTRIES}

ALIASES = {
    "linear": "purelin",
    "identity": "purelin",
    "tanh": "tansig",
    "sigmoid": "logsig",
    "logistic": "logsig",
    "relu": "poslin",
    "silu": "swish",
}


def canonical_name(name):
    return ALIASES.get(name, name)


def lookup(name):
    """The registry entry for ``name`` or an alias of it."""
    entry = REGISTRY.get(canonical_name(str(name)))
    if entry is None:
        raise UnsupportedError(
            f"unknown transfer function {name!r} (supported: {', '.join(supported_names())})")
    return entry


def supported_names():
    return sorted(set(REGISTRY) | set(ALIASES))


def normalize_parameters(name, params):
    """Parameters of a transfer function with defaults filled in, as a sorted tuple."""
    entry = lookup(name)
    allowed = dict(entry.parameters)
    given = dict(params)
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise UnsupportedError(
            f"transfer function {entry.name!r} has no parameter {unknown[0]!r}"
            f" (parameters: {', '.join(allowed) or 'none'})")
    merged = {**allowed, **{key: float(value) for key, value in given.items()}}
    return tuple(sorted(merged.items()))


def elementwise_symbol():
    return _n
