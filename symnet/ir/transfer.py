"""Transfer (activation) functions: one registry, each defined once in sympy.

Every element-wise function is a sympy expression of its net input ``n``;
its derivatives come from sympy.  Where a cheaper or numerically safer form
of a derivative exists, the entry states it (``output_derivative`` f'(n),
possibly written with the function's own output ``a``; ``second_derivative``
f''(n), written with ``a`` and ``d`` = f'(n)) and the test suite proves it
equal to sympy's derivative of the textbook formula (``reference``).

Numerically safe forms: ``build`` is the textbook formula rewritten so that
no exponential of a large positive number is ever taken, whatever n is:
exp(-|n|) lies in [0, 1] for every n, the logistic is 1/(1+e) or e/(1+e)
by the sign of n, softplus is max(n, 0) + log1p(exp(-|n|)), elu uses
expm1(-|n|), tanh' is 4e/(1+e)**2 with e = exp(-2|n|) (exact in the tails,
where 1 - tanh(n)**2 rounds to 0).  Where a product like n*exp(-n**2) would
be inf*0 at n = ±inf (or at an intermediate overflow), a guard returns the
limit past a bound at which the formula already rounds to that limit in
double precision.  The last branch of every ``Piecewise`` holds the formula
in n, so that a NaN input gives NaN.  Softmax is shift-invariant: the
symbolic stage subtracts the layer's largest net input before ``exp``.

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

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Optional

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from . import expression_text
from ..errors import ModelFormatError, UnsupportedError

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
        elementwise: False only for functions of the whole layer (softmax, rms_norm);
            ``build(ns, **params)`` then maps the list of net inputs to the list of outputs.
        text_parameters: names of parameters that are element-wise expressions
            (text) rather than numbers.
        reference: optional ``(n, **params)``: the textbook formula ``build`` is a
            numerically safe rewriting of (tests prove them equal).
        second_derivative: optional ``(a, d, n, **params) -> f''(n)`` with a = f(n)
            and d = f'(n); when given, ``output_derivative`` is the numerically safe
            f'(n) and the symbolic stage keeps it as its own quantity.
        parameter_check: optional ``(**params) -> problem or None``.
        shift_invariant: f(n + c) = f(n) for a common shift c (softmax).
    """

    name: str
    build: Callable
    output_derivative: Optional[Callable] = None
    parameters: tuple = ()
    elementwise: bool = True
    doc: str = ""
    text_parameters: tuple = ()
    reference: Optional[Callable] = None
    second_derivative: Optional[Callable] = None
    parameter_check: Optional[Callable] = None
    shift_invariant: bool = False

    def expression(self, n, params=()):
        return self.build(n, **dict(params))

    def reference_expression(self, n, params=()):
        """The textbook formula (the same as ``expression`` unless that is a safe rewriting)."""
        return (self.reference or self.build)(n, **dict(params))

    def derivative(self, n, a, params=()):
        """f'(n), written with the output symbol ``a`` where that is cheaper."""
        if self.output_derivative is not None:
            return self.output_derivative(a, n, **dict(params))
        derivative = sp.diff(self.expression(n, params), n)
        return derivative.subs(self.expression(n, params), a)

    def curvature(self, n, a, d, params=()):
        """f''(n), written with ``a`` = f(n) and ``d`` = f'(n) where the entry states it so."""
        if self.second_derivative is not None:
            return self.second_derivative(a, d, n, **dict(params))
        slope = sp.sympify(self.derivative(n, a, params))
        return sp.diff(slope, n) + sp.diff(slope, a) * d


# --- numerically safe building blocks -----------------------------------------------------

def _decay(n):
    """exp(-|n|): in [0, 1] for every n and 0 at ±inf, so it never overflows."""
    return sp.exp(-sp.Abs(n))


def _logistic(n):
    """1/(1+exp(-n)) as 1/(1+e) for n >= 0 and e/(1+e) below, e = exp(-|n|)."""
    e = _decay(n)
    return sp.Piecewise((1, n >= 0), (e, True)) / (1 + e)


def _logistic_slope(n):
    """logistic'(n) = e/(1+e)**2, e = exp(-|n|): exact in both tails."""
    e = _decay(n)
    return e / (1 + e)**2


def tanh_slope(n):
    """tanh'(n) = 1 - tanh(n)**2 = 4e/(1+e)**2, e = exp(-2|n|): exact where tanh saturates."""
    e = sp.exp(-2 * sp.Abs(n))
    return 4 * e / (1 + e)**2


def _guard(formula, n, bound, below, above):
    """``formula`` for |n| <= bound, its limits ``below``/``above`` past it.  ``bound`` is where
    the formula already rounds to the limit in double precision: the guard only replaces
    the inf*0 that ±inf (or an overflowing n**2) would turn into NaN."""
    pieces = [(above, n > bound)] if above is not None else []
    pieces += [(below, n < -bound)] if below is not None else []
    return sp.Piecewise(*pieces, (formula, True))


def _without_tanh_squared(expr):
    """``expr`` with every tanh(u)**2 written 1 - tanh'(u) (safe form): sympy's derivatives
    of tanh hold 1 - tanh(u)**2, which rounds to 0 (or to noise) where tanh saturates."""
    return expr.replace(lambda e: e.is_Pow and isinstance(e.base, sp.tanh) and e.exp == 2,
                        lambda e: 1 - tanh_slope(e.base.args[0]))


def _guarded_derivatives(reference, bound, limits):
    """(f', f'') of ``reference(n)`` from sympy, each guarded with its limits ((below, above), ...)."""
    def slope(a, n, **params):
        return _guard(_without_tanh_squared(sp.diff(reference(n, **params), n)), n, bound, *limits[0])

    def second(a, d, n, **params):
        return _guard(_without_tanh_squared(sp.diff(reference(n, **params), n, 2)), n, bound, *limits[1])
    return slope, second


def _softplus_reference(n, beta=1.0, threshold=None):
    smooth = sp.log(1 + sp.exp(beta * n)) / beta
    if threshold is None:
        return smooth
    # PyTorch's Softplus returns n itself where beta*n > threshold.
    return sp.Piecewise((n, beta * n > threshold), (smooth, True))


def _above_threshold(value, formula, n, beta, threshold):
    return formula if threshold is None else sp.Piecewise((value, beta * n > threshold), (formula, True))


def _softplus(n, beta=1.0, threshold=None):
    bn = n if beta == 1 else beta * n
    smooth = sp.Piecewise((0, bn <= 0), (bn, True)) + log1p(_decay(bn))
    return _above_threshold(n, smooth if beta == 1 else smooth / beta, n, beta, threshold)


def _softplus_slope(a, n, beta=1.0, threshold=None):
    return _above_threshold(1, _logistic(n if beta == 1 else beta * n), n, beta, threshold)


def _softplus_second(a, d, n, beta=1.0, threshold=None):
    if beta == 1:
        return _above_threshold(0, _logistic_slope(n), n, beta, threshold)
    return _above_threshold(0, beta * _logistic_slope(beta * n), n, beta, threshold)


def _softplus_check(beta=1.0, threshold=None):
    return "beta must not be zero" if beta == 0 else None


def _exponential_linear(n, alpha, scale):
    """scale*n for n > 0, scale*alpha*(exp(n) - 1) otherwise, via expm1(-|n|) (never overflows)."""
    return sp.Piecewise((scale * n, n > 0), (scale * alpha * expm1(-sp.Abs(n)), True))


def _exponential_linear_slope(n, alpha, scale):
    return sp.Piecewise((scale, n > 0), (scale * alpha * _decay(n), True))


def _exponential_linear_second(n, alpha, scale):
    return sp.Piecewise((0, n > 0), (scale * alpha * _decay(n), True))


def _selu_reference(n, alpha=1.6732632423543772, scale=1.0507009873554805):
    return sp.Piecewise((scale * alpha * (sp.exp(n) - 1), n <= 0), (scale * n, True))


def _selu(n, alpha=1.6732632423543772, scale=1.0507009873554805):
    return _exponential_linear(n, alpha, scale)


def _elu_reference(n, alpha=1.0):
    return sp.Piecewise((alpha * (sp.exp(n) - 1), n <= 0), (n, True))


def _hard_sigmoid(n, alpha=0.2, beta=0.5):
    line = alpha * n + beta
    return sp.Piecewise((0, line <= 0), (1, line >= 1), (line, True))


def _clip(n, min=-1.0, max=1.0):
    return sp.Piecewise((min, n <= min), (max, n >= max), (n, True))


def _gelu_tanh_reference(n):
    return n * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (n + sp.Float(0.044715) * n**3))) / 2


def _gelu_reference(n):
    return n * (1 + sp.erf(n / sp.sqrt(2))) / 2


#: |n| past which GELU and its derivatives are their limits in double precision
#: (Phi(-40) and the Gaussian density at 40 are below the smallest subnormal).
_GELU_BOUND = 40
_GELU_LIMITS = ((0, 1), (0, 0))


def _gelu(n):
    return _guard(_gelu_reference(n), n, _GELU_BOUND, 0, None)


def _gelu_tanh(n):
    return _guard(_gelu_tanh_reference(n), n, _GELU_BOUND, 0, None)


def _swish(n):
    return _guard(n * _logistic(n), n, _SWISH_BOUND, 0, None)


#: exp(-800) is 0 in double precision: past it swish and its derivatives are their limits.
_SWISH_BOUND = 800


def _swish_slope(a, n):
    return _guard(_logistic(n) + n * _logistic_slope(n), n, _SWISH_BOUND, 0, 1)


def _swish_second(a, d, n):
    return _guard(_logistic_slope(n) * (2 + n * (1 - 2 * _logistic(n))), n, _SWISH_BOUND, 0, 0)


#: exp(-28**2) is 0 in double precision: past it radbas' and radbas'' are 0.
_RADBAS_BOUND = 28

#: past 2**60, n/(1+|n|) rounds to ±1 in double precision.
_ELLIOT_BOUND = sp.Float(2.0**60)


def _celu_reference(n, alpha=1.0):
    return sp.Piecewise((alpha * (sp.exp(n / alpha) - 1), n <= 0), (n, True))


def _celu(n, alpha=1.0):
    """n for n > 0, alpha*expm1(n/alpha) otherwise, written with -|n| (never overflows)."""
    return sp.Piecewise((n, n > 0), (alpha * expm1(-sp.Abs(n) / alpha), True))


def _celu_check(alpha=1.0):
    return "alpha must be positive" if not alpha > 0 else None


def _log_sigmoid(n):
    """-softplus(-n) as min(n, 0) - log1p(exp(-|n|)): no exponential of a large number."""
    return sp.Piecewise((n, n <= 0), (0, True)) - log1p(_decay(n))


def _mish_reference(n):
    return n * sp.tanh(sp.log(1 + sp.exp(n)))


#: exp(-800) is 0 in double precision: past it mish and its derivatives are their limits.
_MISH_BOUND = 800


def _mish(n):
    return _guard(n * sp.tanh(_softplus(n)), n, _MISH_BOUND, 0, None)


def _mish_slope(a, n):
    """tanh(s) + n*tanh'(s)*logistic(n), s = softplus(n), each factor in its safe form."""
    s = _softplus(n)
    return _guard(sp.tanh(s) + n * tanh_slope(s) * _logistic(n), n, _MISH_BOUND, 0, 1)


def _mish_second(a, d, n):
    s, sigma = _softplus(n), _logistic(n)
    slope = tanh_slope(s)
    formula = 2 * slope * sigma + n * slope * (_logistic_slope(n) - 2 * sp.tanh(s) * sigma**2)
    return _guard(formula, n, _MISH_BOUND, 0, 0)


@lru_cache(maxsize=256)
def _parsed(text):
    return expression_text.from_text(text)


def _expression(n, expression):
    return _parsed(expression).subs(_n, n)


def _softmax_vector(ns):
    exps = [sp.exp(n) for n in ns]
    total = sp.Add(*exps)
    return [e / total for e in exps]


def _rms_norm_vector(ns, eps=1e-5):
    """n_j / sqrt(mean(n**2) + eps): LayerNorm once its centering (an affine map) is folded
    into the layer's weights, and PyTorch's RMSNorm without its scale."""
    radius = sp.sqrt(sp.Add(*[n**2 for n in ns]) / len(ns) + eps)
    return [n / radius for n in ns]


def _rms_norm_check(eps=1e-5):
    return None if eps > 0 else f"eps must be positive (got {eps})"


_ENTRIES = [
    TransferFunction("purelin", lambda n: n, lambda a, n: sp.Integer(1),
                     doc="identity"),
    TransferFunction("tansig", lambda n: sp.tanh(n), lambda a, n: tanh_slope(n),
                     second_derivative=lambda a, d, n: -2 * a * d,
                     doc="hyperbolic tangent"),
    TransferFunction("logsig", _logistic, lambda a, n: _logistic_slope(n),
                     reference=lambda n: 1 / (1 + sp.exp(-n)),
                     second_derivative=lambda a, d, n: d * (1 - 2 * a),
                     doc="logistic sigmoid 1/(1+exp(-n))"),
    TransferFunction("poslin", lambda n: sp.Piecewise((0, n <= 0), (n, True)),
                     doc="rectified linear unit max(0, n)"),
    TransferFunction("satlin", lambda n: sp.Piecewise((0, n <= 0), (1, n >= 1), (n, True)),
                     doc="saturating linear, 0 below 0 and 1 above 1"),
    TransferFunction("satlins", lambda n: sp.Piecewise((-1, n <= -1), (1, n >= 1), (n, True)),
                     doc="symmetric saturating linear, -1 below -1 and 1 above 1"),
    TransferFunction("radbas", lambda n: sp.exp(-n**2),
                     lambda a, n: _guard(-2 * n * a, n, _RADBAS_BOUND, 0, 0),
                     second_derivative=lambda a, d, n: _guard((4 * n**2 - 2) * a, n, _RADBAS_BOUND, 0, 0),
                     doc="radial basis exp(-n^2)"),
    TransferFunction("elliotsig", lambda n: _guard(n / (1 + sp.Abs(n)), n, _ELLIOT_BOUND, -1, 1),
                     lambda a, n: 1 / (1 + sp.Abs(n))**2,
                     reference=lambda n: n / (1 + sp.Abs(n)),
                     second_derivative=lambda a, d, n: sp.Piecewise((-2 * d / (1 + n), n >= 0),
                                                                     (2 * d / (1 - n), True)),
                     doc="Elliot sigmoid n/(1+|n|)"),
    TransferFunction("softplus", _softplus, _softplus_slope,
                     parameters=(("beta", 1.0), ("threshold", None)),
                     reference=_softplus_reference, second_derivative=_softplus_second,
                     parameter_check=_softplus_check,
                     doc="log(1+exp(beta*n))/beta; with a threshold, n where beta*n > threshold (PyTorch)"),
    TransferFunction("leaky_relu",
                     lambda n, alpha=0.01: sp.Piecewise((alpha * n, n <= 0), (n, True)),
                     parameters=(("alpha", 0.01),),
                     doc="n for n > 0, alpha*n otherwise"),
    TransferFunction("elu",
                     lambda n, alpha=1.0: _exponential_linear(n, alpha, 1),
                     lambda a, n, alpha=1.0: _exponential_linear_slope(n, alpha, 1),
                     parameters=(("alpha", 1.0),), reference=_elu_reference,
                     second_derivative=lambda a, d, n, alpha=1.0: _exponential_linear_second(n, alpha, 1),
                     doc="n for n > 0, alpha*(exp(n)-1) otherwise"),
    TransferFunction("swish", _swish, _swish_slope, reference=lambda n: n / (1 + sp.exp(-n)),
                     second_derivative=_swish_second,
                     doc="n*logsig(n), also called SiLU"),
    TransferFunction("selu", _selu,
                     lambda a, n, alpha=1.6732632423543772, scale=1.0507009873554805:
                         _exponential_linear_slope(n, alpha, scale),
                     parameters=(("alpha", 1.6732632423543772), ("scale", 1.0507009873554805)),
                     reference=_selu_reference,
                     second_derivative=lambda a, d, n, alpha=1.6732632423543772, scale=1.0507009873554805:
                         _exponential_linear_second(n, alpha, scale),
                     doc="scale*n for n > 0, scale*alpha*(exp(n)-1) otherwise"),
    TransferFunction("gelu", _gelu, *_guarded_derivatives(_gelu_reference, _GELU_BOUND, _GELU_LIMITS)[:1],
                     reference=_gelu_reference,
                     second_derivative=_guarded_derivatives(_gelu_reference, _GELU_BOUND, _GELU_LIMITS)[1],
                     doc="n*Phi(n) = n*(1+erf(n/sqrt(2)))/2, exact GELU"),
    TransferFunction("gelu_tanh", _gelu_tanh,
                     *_guarded_derivatives(_gelu_tanh_reference, _GELU_BOUND, _GELU_LIMITS)[:1],
                     reference=_gelu_tanh_reference,
                     second_derivative=_guarded_derivatives(_gelu_tanh_reference, _GELU_BOUND, _GELU_LIMITS)[1],
                     doc="n*(1+tanh(sqrt(2/pi)*(n+0.044715*n^3)))/2, GELU's tanh approximation"),
    TransferFunction("celu", _celu,
                     lambda a, n, alpha=1.0: sp.Piecewise((1, n > 0), (sp.exp(-sp.Abs(n) / alpha), True)),
                     parameters=(("alpha", 1.0),), reference=_celu_reference, parameter_check=_celu_check,
                     second_derivative=lambda a, d, n, alpha=1.0:
                         sp.Piecewise((0, n > 0), (sp.exp(-sp.Abs(n) / alpha) / alpha, True)),
                     doc="n for n > 0, alpha*(exp(n/alpha)-1) otherwise (continuously differentiable ELU)"),
    TransferFunction("mish", _mish, _mish_slope, reference=_mish_reference, second_derivative=_mish_second,
                     doc="n*tanh(softplus(n))"),
    TransferFunction("log_sigmoid", _log_sigmoid, lambda a, n: _logistic(-n),
                     reference=lambda n: -sp.log(1 + sp.exp(-n)),
                     second_derivative=lambda a, d, n: -_logistic_slope(n),
                     doc="log(logsig(n)) = -softplus(-n)"),
    TransferFunction("tanhshrink", lambda n: n - sp.tanh(n), lambda a, n: sp.tanh(n)**2,
                     second_derivative=lambda a, d, n: 2 * sp.tanh(n) * tanh_slope(n),
                     doc="n - tanh(n)"),
    TransferFunction("sin", lambda n: sp.sin(n), lambda a, n: sp.cos(n),
                     second_derivative=lambda a, d, n: -a,
                     doc="sine (SIREN, DeepXDE); NaN at +-inf, where it has no limit"),
    TransferFunction("cos", lambda n: sp.cos(n), lambda a, n: -sp.sin(n),
                     second_derivative=lambda a, d, n: -a,
                     doc="cosine; NaN at +-inf, where it has no limit"),
    TransferFunction("hard_sigmoid", _hard_sigmoid,
                     parameters=(("alpha", 0.2), ("beta", 0.5)),
                     doc="max(0, min(1, alpha*n+beta)) (ONNX defaults; PyTorch uses alpha=1/6)"),
    TransferFunction("clip", _clip,
                     parameters=(("min", -1.0), ("max", 1.0)),
                     doc="n limited to [min, max] (hardtanh, relu6 = clip(0, 6))"),
    TransferFunction("expression", _expression,
                     parameters=(("expression", REQUIRED),), text_parameters=("expression",),
                     doc="an element-wise formula of n given as text"),
    TransferFunction("softmax", _softmax_vector, elementwise=False, shift_invariant=True,
                     doc="exp(n_j)/sum_i exp(n_i) over the layer"),
    TransferFunction("rms_norm", _rms_norm_vector, elementwise=False, parameters=(("eps", 1e-5),),
                     parameter_check=_rms_norm_check,
                     doc="n_j/sqrt(mean_i n_i^2 + eps) over the layer (LayerNorm after centering)"),
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
    "logsigmoid": "log_sigmoid",
    "sine": "sin",
}


def canonical_name(name):
    return ALIASES.get(name, name)


def lookup(name):
    """The registry entry for ``name`` or an alias of it."""
    entry = REGISTRY.get(canonical_name(str(name)))
    if entry is None:
        shown = str(name) if len(str(name)) <= 60 else str(name)[:57] + "..."
        raise UnsupportedError(
            f"unknown transfer function {shown!r} (supported: {', '.join(supported_names())})")
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
    problem = entry.parameter_check(**merged) if entry.parameter_check else None
    if problem:
        raise ModelFormatError(f"transfer function {entry.name!r}: {problem}")
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
        if entry.elementwise and not entry.parameters and entry.reference_expression(_n) == expr:
            return entry.name, ()
    return "expression", (("expression", expression_text.to_text(expr)),)


def piecewise_linear_transfers(net):
    """The names of ``net``'s element-wise transfer functions that are piecewise linear with a
    kink (poslin, satlin, hard sigmoid...): their derivatives of order 2 and more are zero
    wherever they exist."""
    found = []
    for layer in net.layers:
        entry = layer.transfer_function
        if not entry.elementwise or layer.transfer in found:
            continue
        expr = sp.sympify(entry.expression(_n, layer.transfer_params))
        if isinstance(expr, sp.Piecewise) and all(
                sp.diff(piece, _n, 2) == 0 for piece, _ in expr.args):
            found.append(layer.transfer)
    return found


def elementwise_symbol():
    return _n
