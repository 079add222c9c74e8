"""The backend registry: each language's facts in one Backend object, read by the
driver, safe names and the tests; the printers' shared behaviour, one exact string each."""

import fnmatch

import pytest
import sympy as sp

import symnet
from symnet.emit import BACKENDS, backends, get_target
from symnet.emit.backend import Backend
from symnet.emit.c.printer import ExactCPrinter
from symnet.emit.common import FUNCTION_NAMES, RESERVED_FILE_NAMES, reserved_words, safe_identifier
from symnet.emit.printing import MAX_PRODUCT_POWER
from symnet.emit.python.printer import ExactPythonPrinter

from conftest import REPO

x = sp.Symbol("x", real=True)


def test_every_registry_line_names_a_backend_of_that_name():
    assert [backend.name for backend in backends()] == list(BACKENDS)
    assert all(isinstance(backend, Backend) for backend in backends())


@pytest.mark.parametrize("name", list(BACKENDS))
def test_a_backend_writes_exactly_the_files_it_declares(name, tmp_path):
    backend = get_target(name)
    net = symnet.load(REPO / "examples" / "pxyz.json")
    derivatives = ("value", "gradient", "hessian")
    written = [path.name for path in symnet.generate(net, [name], tmp_path, derivatives=derivatives, name="m")]
    expected = set()
    for pattern in backend.files:
        functions = [FUNCTION_NAMES[what] for what in derivatives] if "{function}" in pattern else [None]
        expected |= {pattern.format(name="m", function=function) for function in functions}
    assert sorted(written) == sorted(expected)


@pytest.mark.parametrize("name", list(BACKENDS))
def test_a_backend_literal_reads_back_as_the_same_double(name):
    literal = get_target(name).literal
    assert float(literal(0.1).replace(r" \cdot 10^", "e").replace("{", "").replace("}", "")) == 0.1


def test_safe_names_avoid_every_backends_reserved_words():
    words = reserved_words()
    assert RESERVED_FILE_NAMES <= words
    for backend in backends():
        assert backend.reserved_words <= words
        for word in sorted(backend.reserved_words)[:5]:
            assert safe_identifier(word).lower() != word


def test_small_powers_are_products_up_to_one_limit_in_every_printer():
    assert MAX_PRODUCT_POWER == 4
    assert ExactPythonPrinter().doprint(x**4) == "(x*x*x*x)"
    assert ExactPythonPrinter().doprint(x**-2) == "(1/(x*x))"
    assert ExactCPrinter().doprint(x**4) == "(x*x*x*x)"
    assert ExactCPrinter().doprint(x**-2) == "1.0/(x*x)"
    assert ExactPythonPrinter().doprint(x**5) == "x**5"
    assert ExactCPrinter().doprint(x**5) == "pow(x, 5)"


def test_every_printer_writes_a_float_through_its_backends_literal():
    assert ExactCPrinter("float").doprint(sp.Float(0.1) * x) == "0.1f*x"
    assert ExactPythonPrinter().doprint(sp.Float(0.1) * x) == "0.1*x"
