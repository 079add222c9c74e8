"""Transfer (activation) functions: one registry, each defined once in sympy.

Every element-wise function is a sympy expression of its net input ``n``;
its derivatives come from sympy.  Where a cheaper form of the derivative
exists in terms of the function's own output ``a`` (tanh' = 1 - a**2,
logsig' = a*(1 - a)), the entry states it as ``output_derivative`` and the
test suite proves it equal to sympy's derivative.

Kinks follow PyTorch's autograd, so that derivatives agree with the
framework a model comes from: at a kink the derivative is that of the first
branch of the ``Piecewise`` whose condition holds there (relu'(0) = 0, satlin'(0) = satlin'(1) = 0,
clip'(min) = clip'(max) = 0, hard_sigmoid' = 0 at both corners,
leaky_relu'(0) = alpha, elu'(0) = alpha, selu'(0) = scale*alpha).  Kinks are
written as ``Piecewise`` so that every target prints them as a plain comparison.

The ``expression`` entry is an element-wise activation given by its own
formula of ``n`` (text, see ``expression_text``): importers use it for
activations that exporters decompose into small element-wise subgraphs.
"""

import math

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Optional

import sympy as sp

from . import expression_text
from .errors import ModelFormatError, UnsupportedError

_n = expression_text.SYMBOL

#: default of a parameter that must be given
REQUIRED = object()


@dataclass(frozen=True)
class TransferFunction:
    """One entry of the registry.

    Attributes:
        name: canonical name (MATLAB's where MATLAB has one).
        build: ``build(n, **params)`` returns the sympy expression f(n).
        output_derivative: optional ``(a, n, **params) -> f'(n)`` using a = f(n).
        parameters: parameter names with their default values (None: optional and
            absent unless given; REQUIRED: must be given).
        elementwise: False only for functions of the whole layer (softmax).
        text_parameters: names of parameters that are element-wise expressions
            (text) rather than numbers.
    """

    name: str
    build: Callable
    output_derivative: Optional[Callable] = None
    parameters: tuple = ()
    elementwise: bool = True
    doc: str = ""
    text_parameters: tuple = ()

    def expression(self, n, params=()):
        return self.build(n, **dict(params))

    def derivative(self, n, a, params=()):
        """f'(n), written with the output symbol ``a`` where that is cheaper."""
        if self.output_derivative is not None:
            return self.output_derivative(a, n, **dict(params))
        derivative = sp.diff(self.expression(n, params), n)
        return derivative.subs(self.expression(n, params), a)


def _softplus(n, beta=1.0, threshold=None):
    smooth = sp.log(1 + sp.exp(beta * n)) / beta
    if threshold is None:
        return smooth
    # PyTorch's Softplus returns n itself where beta*n > threshold (no overflow).
    return sp.Piecewise((n, beta * n > threshold), (smooth, True))


def _selu(n, alpha=1.6732632423543772, scale=1.0507009873554805):
    return sp.Piecewise((scale * alpha * (sp.exp(n) - 1), n <= 0), (scale * n, True))


def _hard_sigmoid(n, alpha=0.2, beta=0.5):
    line = alpha * n + beta
    return sp.Piecewise((0, line <= 0), (1, line >= 1), (line, True))


def _clip(n, min=-1.0, max=1.0):
    return sp.Piecewise((min, n <= min), (max, n >= max), (n, True))


def _gelu_tanh(n):
    return n * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (n + sp.Float(0.044715) * n**3))) / 2


@lru_cache(maxsize=256)
def _parsed(text):
    return expression_text.from_text(text)


def _expression(n, expression):
    return _parsed(expression).subs(_n, n)


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
    TransferFunction("softplus", _softplus,
                     parameters=(("beta", 1.0), ("threshold", None)),
                     doc="log(1+exp(beta*n))/beta; with a threshold, n where beta*n > threshold (PyTorch)"),
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
    TransferFunction("selu", _selu,
                     parameters=(("alpha", 1.6732632423543772), ("scale", 1.0507009873554805)),
                     doc="scale*n for n > 0, scale*alpha*(exp(n)-1) otherwise"),
    TransferFunction("gelu", lambda n: n * (1 + sp.erf(n / sp.sqrt(2))) / 2,
                     doc="n*Phi(n) = n*(1+erf(n/sqrt(2)))/2, exact GELU"),
    TransferFunction("gelu_tanh", _gelu_tanh,
                     doc="n*(1+tanh(sqrt(2/pi)*(n+0.044715*n^3)))/2, GELU's tanh approximation"),
    TransferFunction("hard_sigmoid", _hard_sigmoid,
                     parameters=(("alpha", 0.2), ("beta", 0.5)),
                     doc="max(0, min(1, alpha*n+beta)) (ONNX defaults; PyTorch uses alpha=1/6)"),
    TransferFunction("clip", _clip,
                     parameters=(("min", -1.0), ("max", 1.0)),
                     doc="n limited to [min, max] (hardtanh, relu6 = clip(0, 6))"),
    TransferFunction("expression", _expression,
                     parameters=(("expression", REQUIRED),), text_parameters=("expression",),
                     doc="an element-wise formula of n given as text"),
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
    "softsign": "elliotsig",
    "hardtanh": "clip",
    "hardsigmoid": "hard_sigmoid",
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
    missing = [key for key, default in entry.parameters if default is REQUIRED and key not in given]
    if missing:
        raise ModelFormatError(f"transfer function {entry.name!r} needs the parameter {missing[0]!r}")
    merged = {key: value for key, value in allowed.items() if value is not None and value is not REQUIRED}
    merged.update({key: _parameter_value(entry, key, value) for key, value in given.items()})
    return tuple(sorted(merged.items()))


def _parameter_value(entry, key, value):
    if key in entry.text_parameters:
        return expression_text.canonical_text(value)
    if isinstance(value, (str, bytes, bool)):
        raise ModelFormatError(f"transfer function {entry.name!r}: parameter {key!r} must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise ModelFormatError(f"transfer function {entry.name!r}: parameter {key!r} must be finite")
    return number


def expression_transfer(expr):
    """(name, params) for an element-wise sympy expression of ``elementwise_symbol()``:
    the registry entry with default parameters that it equals, else ``expression``."""
    for entry in _ENTRIES:
        if entry.elementwise and not entry.parameters and entry.expression(_n) == expr:
            return entry.name, ()
    return "expression", (("expression", expression_text.to_text(expr)),)


def elementwise_symbol():
    return _n
