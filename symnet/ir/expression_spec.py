"""A user expression's value, gradient or Hessian with respect to the raw inputs as one
derivative of the spec (symnet.ir.derivative_spec), so that every later stage treats it as
it treats a named partial derivative: ``kind`` "expression", a canonical ``name`` that is an
identifier (``cost_value``, ``r_gradient``, ``r_hessian``), an ``order``, a ``shape`` and the
``extra_arguments`` the generated functions take after x (the expression's parameters).

The canonical name is handed through the pipeline as an ``ExpressionName``: a ``str`` (the
name, usable as a key and in file and function names) that carries its ExpressionSpec, which
``derivative_spec.spec_of`` returns.

Which derivatives of an expression are emitted: its value and gradient always, its Hessian
when the derivatives asked for name ``hessian`` (``expression_derivatives``).
"""

import ast
import re
from dataclasses import dataclass, field

from ..errors import UnsupportedError
from .user_expression import FUNCTIONS, UserExpression, parse_expression

#: What of an expression may be emitted, in the order of generated files.
EXPRESSION_DERIVATIVES = ("value", "gradient", "hessian")

#: Names a parameter may not take whatever its case: the arguments and outputs of the generated
#: functions of every target, the loop variables of their batch forms and the modules they import.
ARGUMENT_WORDS = frozenset("""
x v w n s q y e de d2e grad jac hess jv vj hv lap div partial g j h d np math numpy ans nargin
p part compare where worst checks failures n_inputs n_outputs result restrict size_t points got expected
scale tolerance arguments function
z value count batch first point block x_offset
""".split())

#: The longest parameter name: an argument of the generated functions, and MATLAB truncates a
#: variable name past 63 characters (namelengthmax).
MAX_PARAMETER_LENGTH = 63

_PARAMETER = re.compile(r"[A-Za-z][A-Za-z_]*\Z")
_SPEC = re.compile(r"\s*([A-Za-z_]\w*)\s*:\s*([0-9]+)\s*\Z")


@dataclass(frozen=True)
class ExpressionSpec:
    """``what`` ("value", "gradient" or "hessian") of the user expression ``text`` with
    ``parameters`` ((name, size), ...); ``base`` is the expression's safe name."""

    text: str
    what: str
    parameters: tuple
    base: str
    formula_text: str = field(compare=False)
    user: UserExpression = field(compare=False, hash=False, repr=False)

    kind = "expression"
    output = 0
    inputs = ()

    @property
    def name(self):
        """The canonical name, carrying this spec (an ExpressionName)."""
        return ExpressionName(self)

    @property
    def reads(self):
        """The highest order of the partial derivatives of the outputs the expression reads."""
        return max((len(q.inputs) for q in self.user.quantities), default=0)

    @property
    def order(self):
        """The highest order of the outputs' derivatives this derivative of the expression needs."""
        return self.reads + EXPRESSION_DERIVATIVES.index(self.what)

    @property
    def extra_arguments(self):
        return self.parameters

    def shape(self, n_inputs, n_outputs):
        return {"value": (1,), "gradient": (n_inputs,), "hessian": (n_inputs, n_inputs)}[self.what]

    def formula(self):
        """The derivative in ASCII symbols for documentation comments: the formula as the
        user wrote it (re-printed from its syntax tree: names, numbers, operators), or its
        derivative."""
        if self.what == "value":
            return f"{self.base} = {self.formula_text}"
        if self.what == "gradient":
            return f"d{self.base}/dx_k of {self.base} = {self.formula_text}"
        return f"d2{self.base}/dx_k dx_m of {self.base} = {self.formula_text}"


class ExpressionName(str):
    """The canonical name of an ExpressionSpec, carrying the spec (``spec``)."""

    spec = None

    def __new__(cls, spec):
        name = super().__new__(cls, f"{spec.base}_{spec.what}")
        name.spec = spec
        return name

    def __reduce__(self):
        return (ExpressionName, (self.spec,))


def parse_parameter(text):
    """``(name, size)`` of ``NAME:SIZE`` (``--parameter``); a one-line UnsupportedError otherwise."""
    match = _SPEC.match(str(text))
    if match is None or int(match.group(2)) < 1:
        raise UnsupportedError(f"parameter {str(text)!r}: expected NAME:SIZE with a positive whole number"
                               " SIZE (t:3, nu:1)")
    return match.group(1), int(match.group(2))


def check_parameters(parameters, net, reserved=frozenset()):
    """Refuse a parameter name that is not letters and underscores, that is an output or
    function name of expressions, an argument or output of the generated functions, a word of
    ``reserved`` (the target languages' keywords, lower-case) or given twice.  An input's name
    may be a parameter's: in an expression it only follows an output's name and ``_``."""
    from .derivative_spec import scalar_names
    taken = set(scalar_names(net.outputs, net.n_outputs, "y"))
    seen = set()
    for name, size in parameters:
        if not _PARAMETER.match(name):
            raise UnsupportedError(f"parameter {name!r}: a parameter name is ASCII letters and underscores,"
                                   " starting with a letter")
        if len(name) > MAX_PARAMETER_LENGTH:
            raise UnsupportedError(f"parameter {name[:20]!r}...: a parameter name has at most {MAX_PARAMETER_LENGTH}"
                                   " characters (MATLAB's longest variable name)")
        if name in taken or name in FUNCTIONS or name == "sum":
            raise UnsupportedError(f"parameter {name!r}: the name of an output or function of expressions")
        if name.lower() in ARGUMENT_WORDS or name.lower() in reserved:
            raise UnsupportedError(f"parameter {name!r}: a reserved word or argument name of the generated code")
        if name.lower() in seen:   # NumPy and MATLAB code spell some arguments in capitals
            raise UnsupportedError(f"parameter {name!r} given twice (names differing only in case count as one)")
        if int(size) < 1:
            raise UnsupportedError(f"parameter {name!r}: size {size} (a parameter has 1 or more numbers)")
        seen.add(name.lower())


def expression_specs(texts, net, parameters=(), whats=("value", "gradient"), reserved=frozenset(),
                     safe_name=lambda name: name):
    """The ExpressionName of each of ``whats`` of every expression in ``texts``, expressions in
    order; ``safe_name`` turns an expression's name into an identifier of every target."""
    parameters = tuple((str(name), int(size)) for name, size in parameters)
    check_parameters(parameters, net, reserved)
    names, used = [], set()
    for text in texts:
        user = parse_expression(text, net, parameters)
        read = user.expression.free_symbols
        own = tuple((name, size) for name, size, symbols in user.parameters if read & set(symbols))
        base = safe_name(user.name)
        if base in used:
            raise UnsupportedError(f"expression {text!r}: a second expression named {base!r}")
        used.add(base)
        formula = _formula_text(text)
        for what in EXPRESSION_DERIVATIVES:
            if what in whats:
                names.append(ExpressionName(ExpressionSpec(" ".join(str(text).split()), what, own, base,
                                                           formula, user)))
    _require_parameters_read(parameters, names)
    return tuple(names)


def _require_parameters_read(parameters, names):
    read = {name for spec_name in names for name, _ in spec_name.spec.parameters}
    for name, _ in parameters:
        if name not in read:
            raise UnsupportedError(f"parameter {name!r}: no expression reads it")


def _formula_text(text):
    """The right-hand side re-printed from its syntax tree (parse_expression accepted it: names,
    numbers, operators between blanks, calls and parentheses), so that it can never close
    or open a comment of a target language; anything else is replaced (a defence in depth)."""
    text = str(text).strip()
    match = re.match(r"\s*[A-Za-z_]\w*\s*=(?!=)", text)
    body = text[match.end():] if match else text
    printed = ast.unparse(ast.parse(body.strip(), mode="eval"))
    return _UNSAFE.sub("_", printed).replace("*/", "* /").replace("/*", "/ *")


_UNSAFE = re.compile(r"[^A-Za-z0-9_ .+\-*/()]")


def parameter_symbols(spec):
    """((name, symbols), ...) of the parameters of ``spec``, as the parsed expression holds them."""
    by_name = {name: symbols for name, _, symbols in spec.user.parameters}
    return tuple((name, by_name[name]) for name, _ in spec.parameters)


def header_lines(names, n_inputs):
    """Lines for the top comment of generated files: each expression, its parameters and the
    shape of each of its functions' results (text safe in a comment of every target: the
    formula is re-printed from its syntax tree, names, numbers, operators and parentheses)."""
    lines, seen = [], set()
    for what in names:
        spec = what.spec
        if spec.base in seen:
            continue
        seen.add(spec.base)
        emitted = [n.spec.what for n in names if n.spec.base == spec.base]
        shapes = {"value": "1 value", "gradient": f"{n_inputs} values", "hessian": f"{n_inputs} x {n_inputs} values"}
        lines.append(f"expression {spec.base} = {spec.formula_text}")
        parameters = ", ".join(f"{name} ({size} value{'s' if size > 1 else ''})" for name, size in spec.parameters)
        lines.append(f"  parameters: {parameters or 'none'}; "
                     + ", ".join(f"{w} {shapes[w]}" for w in emitted) + " per point")
    return tuple(lines)
