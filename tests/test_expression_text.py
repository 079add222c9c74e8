"""Element-wise expressions as text: exact round trip, and a parser that refuses
anything but arithmetic on n with the listed functions."""

import numpy as np
import pytest
import sympy as sp

from symnet.ir import expression_text

from symnet.ir import transfer
from symnet.errors import ModelFormatError

n = expression_text.SYMBOL

EXPRESSIONS = [
    n / (1 + sp.exp(-n)),
    sp.Float(0.5) * n * (1 + sp.erf(n * sp.Float(1 / 1.4142135381698608))),
    sp.Piecewise((sp.Float(-1.5), n <= -1.5), (sp.Float(6.0), n >= 6), (n, True)),
    sp.Piecewise((n, sp.And(n > 0, n < 1)), (0, True)),
    n * sp.tanh(sp.log(1 + sp.exp(n))),
    sp.Rational(1, 6) * n + sp.Rational(1, 2) - sp.Float(0.1 + 0.2) * n**3,
    sp.sqrt(2 / sp.pi) * sp.cosh(n) ** 2 / sp.atan(n),
]


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=range(len(EXPRESSIONS)))
def test_text_round_trip_is_exact(expr):
    text = expression_text.to_text(expr)
    assert expression_text.from_text(text) == expr
    assert expression_text.to_text(expression_text.from_text(text)) == text


def test_every_double_survives_the_text():
    values = np.random.default_rng(0).normal(size=50) * 10.0 ** np.arange(-25, 25)
    for value in values:
        expr = expression_text.from_text(expression_text.to_text(sp.Float(float(value)) * n))
        assert float(expr.args[0]) == value


@pytest.mark.parametrize("text, problem", [
    ("__import__('os')", "function '__import__'"),
    ("__import__('os').system('true')", "this call"),
    ("n.__class__", "syntax Attribute"),
    ("x + 1", "name 'x'"),
    ("exp(n, 2)", "function 'exp'"),
    ("'a' * 3", "constant 'a'"),
    ("[n for n in n]", "syntax ListComp"),
    ("lambda: 1", "syntax Lambda"),
    ("2**1000000000", "exponent larger"),
    ("n // 2", "operator FloorDiv"),
    ("n +", "not valid"),
    ("n < 1", "number-valued"),
    ("(" * 300 + "n" + ")" * 300, "not valid|too deeply"),
    ("n+" * 3000 + "n", "not valid|more than|too deeply"),
    ("n*" * 1500 + "n", "not valid|more than|too deeply"),
], ids=lambda value: value[:20] if isinstance(value, str) else None)
def test_hostile_or_invalid_text_is_refused(text, problem):
    with pytest.raises(ModelFormatError, match=problem):
        expression_text.from_text(text)


def test_expression_transfer_recognizes_registry_entries():
    assert transfer.expression_transfer(n * (1 / (1 + sp.exp(-n)))) == ("swish", ())
    assert transfer.expression_transfer(n * (1 + sp.erf(n / sp.sqrt(2))) / 2) == ("gelu", ())
    assert transfer.expression_transfer(n * sp.tanh(sp.log(1 + sp.exp(n)))) == ("mish", ())
    name, params = transfer.expression_transfer(n * sp.tanh(sp.log(2 + sp.exp(n))))
    assert name == "expression" and dict(params)["expression"] == "n*tanh(log(exp(n) + 2))"


def test_expression_transfer_needs_its_text():
    with pytest.raises(ModelFormatError, match="needs the parameter 'expression'"):
        transfer.normalize_parameters("expression", ())
