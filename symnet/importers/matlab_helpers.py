"""A genFunction helper is read for what its body computes, not for its name.

A file whose ``tansig_apply`` computes a logistic, adds a constant or calls
``system`` would otherwise load as tansig and give derivatives of a model that
is not the one MATLAB runs. Each helper the simulation calls is run
(matlab_helper_run, never MATLAB) on a stand-in instance and accepted only when:

* over the reals, with symbols for its inputs and settings, every element of
  its result equals the claimed function: the difference is proven zero by
  sympy (expanding, then ``simplify``), so every spelling MATLAB has written
  (``2./(1+exp(-2*n))-1``, ``tanh(n)``, a max-shifted softmax with a zero
  guard, a GPU branch, bsxfun or implicit expansion) is accepted, and anything
  sympy cannot prove equal is refused;
* for a transfer function, over doubles at |n| from 0 to 1e300, it gives what
  symnet computes (so an overflow to NaN that MATLAB would return is caught).

A helper that computes another function than its name says is refused, not
read as that other function: the name is what the rest of the file means.
Helpers the file calls but does not define (``tansig`` from the toolbox) are
MATLAB's own. Results are cached by the helpers' text, so a file is checked once.
"""

import itertools
import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from types import SimpleNamespace

import numpy as np
import sympy as sp

from ..errors import SymnetError, UnsupportedError
from ..ir import transfer as transfer_registry
from ..ir.evaluation import apply_transfer
from .matlab_helper_math import DoubleMath, ExactMath
from .matlab_helper_run import HelperRun, Struct
from .matlab_lines import at_line

#: a stand-in net input: 3 units (so softmax mixes them), 2 samples (so a sum along the wrong dimension shows)
_UNITS, _SAMPLES = 3, 2
#: removeconstantrows on the stand-in: 5 rows, rows 2 and 5 constant
_KEEP, _REMOVE = (1, 3, 4), (2, 5)
#: |n| at which MATLAB's doubles must agree with symnet's numeric path
_TEST_POINTS = np.array([0, 1e-300, 1e-20, 1e-8, 1e-3, 0.1, 0.5, 0.9, 1, 1.5, 2, 3, 5, 10, 20, 40, 100, 300,
                         700, 710, 745, 800, 1e5, 1e10, 1e100, 1e300])
_MAX_FLAGS = 4
#: the most terms an expansion in a proof may make (MATLAB's helpers need a few dozen)
_MAX_TERMS = 5000


@dataclass(frozen=True)
class HelperCall:
    """A helper the simulation calls and what it takes the helper to compute.

    ``kind`` is a transfer function's name, or (``step``) a processing step's kind,
    undone when ``reverse``, whose settings arguments hold ``roles`` ("struct" or
    the field given) out of the step's ``fields``."""
    helper: str
    kind: str
    step: bool = False
    reverse: bool = False
    roles: tuple = ()
    fields: tuple = ()

    @property
    def claim(self):
        return f"the reverse of {self.kind}" if self.reverse else self.kind


def check_helper_calls(functions, calls):
    """Refuse the first call of a helper (defined in the file) whose body does not compute its claim."""
    if not functions:
        return
    base = min(function.line for function in functions.values())
    relative = tuple(replace(f, line=f.line - base, body=tuple((line - base, text) for line, text in f.body))
                     for f in functions.values())
    for call in dict.fromkeys(calls):
        if call.helper in functions:
            problem = _checked(relative, call)
            if problem is not None:
                raise at_line(UnsupportedError(problem[0]), problem[1] + base)


@lru_cache(maxsize=512)
def _checked(functions, call):
    """None, or (problem, line relative to the first helper)."""
    functions = {f.name: f for f in functions}
    header = functions[call.helper].line
    run = HelperRun(functions, ExactMath())
    line = header
    try:
        instance, expected = _instance(call, run.math)
        value = run.call(call.helper, instance)
        # the line that set the result, unless the body has two ways through (then its first line)
        line = header if run.math.flags else run.output_lines.get(call.helper, header)
        result = _result(run, value, expected.shape, line)
        detail = None if call.step else _double_difference(functions, call)
        if detail is not None:
            detail = f"its body gives {_shown(result[0, 0])}, {call.kind} is {_shown(expected[0, 0])}: {detail}"
        else:
            detail = _difference(run, result, expected, call)
    except SymnetError as error:
        return f"helper {call.helper!r} is not read as {call.claim} ({error.problem})", getattr(
            error, "line", None) or line
    if detail is None:
        return None
    return f"helper {call.helper!r} does not compute {call.claim} ({detail})", line


def _result(run, value, shape, line=None):
    value = run.numbers(value) if not isinstance(value, (str, Struct)) else value
    if not isinstance(value, np.ndarray):
        raise at_line(UnsupportedError("its result is not an array of numbers"), line)
    if value.shape != shape:
        raise at_line(UnsupportedError(f"its result is {'x'.join(map(str, value.shape))} where"
                                       f" {'x'.join(map(str, shape))} is expected"), line)
    return value


# --- the stand-in instance and what the helper must return for it --------------------------------

def _symbols(name, rows, columns=1):
    return np.array([[sp.Symbol(f"{name}{i + 1}" + (f"_{j + 1}" if columns > 1 else ""), real=True)
                      for j in range(columns)] for i in range(rows)], dtype=object)


def _instance(call, math):
    """(arguments of the call, expected result) on the stand-in."""
    if not call.step:
        n = _symbols("n", _UNITS, _SAMPLES)
        return [n], _transfer_expected(call.kind, n)
    settings = _settings(call.kind)
    unknown = [role for role in call.roles if role != "struct" and role not in settings]
    if unknown:
        raise UnsupportedError(f"unknown setting {unknown[0]!r}")
    given = Struct({name: value for name, value in settings.items() if name in call.fields})
    arguments = [given if role == "struct" else settings[role] for role in call.roles]
    signal, expected = _step_expected(call.kind, call.reverse, settings)
    return [signal] + arguments, expected


def _transfer_expected(name, n):
    entry = transfer_registry.lookup(name)
    if entry.elementwise:
        return np.vectorize(lambda e: entry.reference_expression(e), otypes=[object])(n)
    return np.array([entry.expression(list(n[:, j])) for j in range(n.shape[1])], dtype=object).T


def _settings(kind):
    if kind == "removeconstantrows":
        rows = np.array([[len(_KEEP) + len(_REMOVE)]], dtype=object)
        constants = _symbols("constant", len(_REMOVE))
        return {"xrows": rows, "keep": np.array([_KEEP], dtype=object), "remove": np.array([_REMOVE], dtype=object),
                "constants": constants, "value": constants}
    target = "ymin" if kind == "mapminmax" else "ymean"
    return {"xoffset": _symbols("xoffset", _UNITS), "gain": _symbols("gain", _UNITS),
            target: np.array([[sp.Symbol(target, real=True)]], dtype=object)}


def _step_expected(kind, reverse, settings):
    if kind == "removeconstantrows":
        keep, remove = [k - 1 for k in _KEEP], [k - 1 for k in _REMOVE]
        if not reverse:
            x = _symbols("x", len(keep) + len(remove), _SAMPLES)
            return x, x[keep]
        y = _symbols("y", len(keep), _SAMPLES)
        expected = np.empty((len(keep) + len(remove), _SAMPLES), dtype=object)
        expected[keep] = y
        expected[remove] = np.broadcast_to(settings["constants"], (len(remove), _SAMPLES))
        return y, expected
    target = settings["ymin" if kind == "mapminmax" else "ymean"]
    if not reverse:
        x = _symbols("x", _UNITS, _SAMPLES)
        return x, (x - settings["xoffset"]) * settings["gain"] + target
    y = _symbols("y", _UNITS, _SAMPLES)
    return y, (y - target) / settings["gain"] + settings["xoffset"]


# --- comparing --------------------------------------------------------------------------------------

def _difference(run, result, expected, call):
    """None when every element is proven equal, else what the body computes instead."""
    flags = run.math.flags
    if len(flags) > _MAX_FLAGS:
        raise UnsupportedError(f"more than {_MAX_FLAGS} conditions it cannot decide")
    elementwise = not call.step and transfer_registry.lookup(call.kind).elementwise
    for values in itertools.product((sp.true, sp.false), repeat=len(flags)):
        fixed = dict(zip(flags, values))
        pairs = [(sp.sympify(a).xreplace(fixed), b) for a, b in zip(result.reshape(-1), expected.reshape(-1))]
        if elementwise:
            pairs = _one_per_form(pairs, result.shape)
            if isinstance(pairs, str):
                return pairs
        for got, wanted in pairs:
            if not proven_equal(got, wanted):
                return f"its body gives {_shown(got)}, {call.claim} is {_shown(wanted)}"
    return None


def _one_per_form(pairs, shape):
    """Element-wise pairs written in ``n`` alone, each form once (all elements share one normally)."""
    n = transfer_registry.elementwise_symbol()
    forms = {}
    for (got, wanted), symbol in zip(pairs, _symbols("n", *shape).reshape(-1)):
        renamed = got.xreplace({symbol: n})
        if renamed.free_symbols - {n}:
            return "its result mixes the elements of its input: it is not element-wise"
        forms.setdefault(renamed, wanted.xreplace({symbol: n}))
    return list(forms.items())


def proven_equal(a, b):
    """Whether sympy proves a - b zero for every real value of the symbols (a failure of sympy's is no proof)."""
    try:
        return _proven_zero(sp.sympify(a - b))
    except (ArithmeticError, ValueError, TypeError, AttributeError, NotImplementedError, RecursionError,
            sp.PolynomialError):
        return False


def _proven_zero(difference):
    if difference == 0:
        return True
    if difference.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        return False
    if _expanded_terms(difference) > _MAX_TERMS:
        raise UnsupportedError("its maths is too large to check")
    if difference.has(sp.tanh, sp.sinh, sp.cosh):
        difference = difference.rewrite(sp.exp)
    if sp.expand(sp.numer(sp.together(sp.expand(difference)))) == 0:
        return True
    if difference.is_rational_function():
        return False        # a rational function is zero exactly when its expanded numerator is
    return sp.simplify(sp.piecewise_fold(difference.rewrite(sp.Piecewise))) == 0


def _expanded_terms(expr):
    """An upper bound of the terms that expanding ``expr`` makes (capped past the limit)."""
    if expr.is_Add:
        return min(sum(_expanded_terms(a) for a in expr.args), _MAX_TERMS + 1)
    if expr.is_Mul:
        return min(math.prod(_expanded_terms(a) for a in expr.args), _MAX_TERMS + 1)
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        base = _expanded_terms(expr.base)
        return 1 if base == 1 else min(base ** min(int(expr.exp), 64), _MAX_TERMS + 1)
    return max([1] + [_expanded_terms(a) for a in expr.args if isinstance(a, sp.Expr)])


def _shown(expr, limit=100):
    """The expression as text, the symbols of the first element without their numbers, fractions as decimals."""
    expr = sp.sympify(expr)
    first = (re.fullmatch(r"([A-Za-z]+)1(?:_1)?", str(s)) for s in expr.free_symbols)
    names = {sp.Symbol(m.group(0), real=True): sp.Symbol(m.group(1), real=True) for m in first if m}
    decimals = {r: sp.Float(float(r), 17) for r in expr.atoms(sp.Rational) if r.q > 1024}
    text = sp.sstr(expr.xreplace({**names, **decimals}))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _double_difference(functions, call):
    """None when MATLAB's doubles agree with symnet's numeric path at every test point, else where not."""
    points = np.concatenate([-_TEST_POINTS[::-1], _TEST_POINTS[1:]])
    n = np.array([points, np.roll(points, 17), -np.roll(points, 5)])
    run = HelperRun(functions, DoubleMath())
    got = _result(run, run.call(call.helper, [n]), n.shape)
    entry = transfer_registry.lookup(call.kind)
    wanted = apply_transfer(SimpleNamespace(transfer_function=entry, transfer_params=(), size=_UNITS), n)
    with np.errstate(invalid="ignore"):
        same = (np.isnan(got) & np.isnan(wanted)) | (got == wanted) | (
            np.abs(got - wanted) <= 1e-12 * np.maximum(1.0, np.abs(wanted)))
    if np.all(same):
        return None
    i, j = min(np.argwhere(~same), key=lambda ij: abs(n[ij[0], ij[1]]))
    return f"at n = {n[i, j]:g} in double precision it gives {got[i, j]:g} for {wanted[i, j]:g}"
