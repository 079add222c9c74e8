"""The ``latex`` backend's driver: ``NAME_equations.tex`` to ``\\input`` into a paper
(needs amsmath and longtable) and ``NAME.tex``, a standalone document around
it that compiles with pdflatex from texlive-latex-base.

It holds the model and its derivatives in compact index form, normalization
written out (``form``), a table of every constant, and, while it stays
under ``CLOSED_FORM_LIMIT``, the fully numeric closed form of each requested
derivative (the generated program with every intermediate substituted).  Its
size is estimated from the network's shape first (symnet.unrolled.size), so a
closed form far too large is never measured or printed.
"""

import re

import sympy as sp

from ... import progress
from ...ir.derivative_spec import spec_of
from ...unrolled.size import estimate, rounded
from ..common import DerivativeTable, render, unravel
from .expression import expression_equations
from .form import IndexForm
from .printer import ExactLatexPrinter, latex_number

#: Largest closed form printed, in expression-tree nodes per derivative (about
#: ten characters of LaTeX each); a larger one is replaced by a message.
CLOSED_FORM_LIMIT = 5000

#: Largest number of constants listed in the tables.
TABLE_LIMIT = 5000

TITLES = DerivativeTable({"value": "Value", "gradient": "Gradient", "jacobian": "Jacobian", "hessian": "Hessian"},
                         lambda spec: f"partial derivative ${spec_formula(spec, (spec.output,))}$"
                         if spec.kind == "partial"
                         else f"{spec.what} of the expression ${sp.latex(sp.Symbol(spec.base))}$"
                         if spec.kind == "expression" else {"laplacian": "Laplacian", "divergence": "Divergence",
                                                         "jvp": "Jacobian-vector product $J v$",
                                                         "vjp": "vector-Jacobian product $w^{T} J$",
                                                         "hvp": "Hessian-vector products $H_i v$"}[spec.kind])

_TEXT_ESCAPES = {"_": r"\_", "$": r"\$", "&": r"\&", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}",
                 ">": r"\textgreater{}", "|": r"\textbar{}", "#": r"\#", "%": r"\%"}


def latex_text(text):
    """Plain text (already comment-safe) with LaTeX's special characters escaped."""
    return re.sub(r"[_$&^~<>|#%]", lambda match: _TEXT_ESCAPES[match.group(0)], str(text))


class _NegativePower(sp.Function):
    """base**(-exponent), kept away from sympy's Mul printer so that it never becomes a \\frac."""

    nargs = 2


class _Fraction(sp.Function):
    """A rational factor p/q, kept away from sympy's Mul printer (which would put the
    whole product over q)."""

    nargs = 2


#: LaTeX names of the functions in generated programs where they differ from sympy's.
_FUNCTION_NAMES = {"exp": r"\exp", "log": r"\ln", "expm1": r"\operatorname{expm1}", "log1p": r"\operatorname{log1p}"}


class BreakableLatexPrinter(ExactLatexPrinter):
    """Long formulas for running text, every ``definitions`` symbol replaced by its
    definition while printing (the closed form, without rebuilding sympy trees):
    plain parentheses, no \\left...\\right groups and no \\frac, so that TeX may
    break lines inside them."""

    def __init__(self, definitions=None):
        super().__init__({"mul_symbol": "dot"})
        self.definitions = dict(definitions or {})

    def doprint(self, expr):
        text = super().doprint(expr)
        for sized, plain in ((r"\left(", "("), (r"\right)", ")"), (r"\left|", "|"), (r"\right|", "|")):
            text = text.replace(sized, plain)
        return text

    def _print(self, expr, **kwargs):
        if isinstance(expr, sp.Symbol) and expr in self.definitions:
            return self._print(self.definitions[expr], **kwargs)
        if isinstance(expr, sp.Basic):
            expr = self._unfold(expr)
        return super()._print(expr, **kwargs)

    def _unfold(self, expr):
        """``expr`` with its own arguments resolved (one level: printing recurses)."""
        if expr.is_Pow and expr.exp.is_negative:
            return _NegativePower(self._resolved(expr.base), -expr.exp)
        if not expr.args or isinstance(expr, (sp.Piecewise, _NegativePower, _Fraction)):
            return expr
        args = tuple(self._resolved(arg) for arg in expr.args)
        if args == expr.args:
            return expr
        with sp.evaluate(False):
            return expr.func(*args)

    def _resolved(self, arg):
        arg = self.definitions.get(arg, arg)
        if arg.is_Rational and not arg.is_Integer:
            return _Fraction(arg.p, arg.q)
        return _NegativePower(arg.base, -arg.exp) if arg.is_Pow and arg.exp.is_negative else arg

    def _print__Fraction(self, expr, exp=None):
        p, q = (int(a) for a in expr.args)
        return rf"{'-' if p < 0 else ''}\tfrac{{{abs(p)}}}{{{q}}}"

    def _print_Function(self, expr, exp=None):
        name = expr.func.__name__
        text = _FUNCTION_NAMES.get(name) or self._hprint_Function(name)
        text += "(" + ", ".join(self._print(a) for a in expr.args) + ")"
        return f"{text}^{{{exp}}}" if exp is not None else text

    def _print__NegativePower(self, expr, exp=None):
        base, exponent = expr.args
        return f"({self._print(base)})^{{-{self._print(exponent)}}}"

    _print_erf = _print_ExpBase = _print_log = _print_Function

    def _print_Abs(self, expr, exp=None):
        text = f"|{self._print(expr.args[0])}|"
        return f"{text}^{{{exp}}}" if exp is not None else text

    def _print_Max(self, expr, exp=None):
        text = r"\max(" + ", ".join(self._print(a) for a in expr.args) + ")"
        return f"{text}^{{{exp}}}" if exp is not None else text

    def _print_Piecewise(self, expr):
        parts = [rf"{self._print(e)} \text{{ if }} {self._print(c)}" for e, c in expr.args[:-1]]
        last = expr.args[-1]
        parts.append(rf"{self._print(last.expr)} \text{{ otherwise}}" if last.cond == True  # noqa: E712
                     else rf"{self._print(last.expr)} \text{{ if }} {self._print(last.cond)}")
        return r"\{" + r";\ ".join(parts) + r"\}"


def closed_form_size(program):
    """Expression-tree nodes of the program's block with every assignment substituted
    (counted on the shared graph, so that the count itself stays cheap)."""
    size = {}

    def count(expr):
        return sum(size.get(node, 1) if node.is_Symbol else 1 for node in sp.preorder_traversal(expr))

    for assignment in program.assignments:
        size[assignment.target] = count(assignment.expr)
    return sum(count(sp.sympify(entry)) for entry in program.blocks[0].entries)


def _entry_name(what, index, n_outputs):
    if what not in TITLES:
        return spec_formula(spec_of(what), index)
    if what == "value":
        return f"y_{{{index[0] + 1}}}"
    if what == "gradient":
        return rf"\partial y / \partial x_{{{index[0] + 1}}}"
    if what == "jacobian":
        return rf"\partial y_{{{index[0] + 1}}} / \partial x_{{{index[1] + 1}}}"
    i, k, m = index
    return rf"\partial^2 y_{{{i + 1}}} / \partial x_{{{k + 1}}}\, \partial x_{{{m + 1}}}"


def spec_formula(spec, index):
    r"""A derivative of the spec as a user writes it: \partial^2 y_1 / \partial x_1\, \partial x_2,
    \sum_k \partial^2 y_i / \partial x_k^2 (the Laplacian of output ``index[0]``), \nabla \cdot y."""
    if spec.kind == "expression":
        name = sp.latex(sp.Symbol(spec.base))
        return {"value": name, "gradient": rf"\partial {name} / \partial x_{{{index[0] + 1}}}",
                "hessian": rf"\partial^2 {name} / \partial x_{{{index[0] + 1}}}\, \partial x_{{{index[-1] + 1}}}"
                }[spec.what]
    if spec.kind == "laplacian":
        return rf"\sum_{{k}} \partial^2 y_{{{index[0] + 1}}} / \partial x_{{k}}^2"
    if spec.kind == "divergence":
        return r"\sum_{k} \partial y_{k} / \partial x_{k}"
    if spec.kind == "jvp":
        return rf"(J v)_{{{index[0] + 1}}}"
    if spec.kind == "vjp":
        return rf"(w^{{T}} J)_{{{index[0] + 1}}}"
    if spec.kind == "hvp":
        return rf"(H_{{{index[0] + 1}}} v)_{{{index[1] + 1}}}"
    powers = {}
    for k in spec.inputs:
        powers[k] = powers.get(k, 0) + 1
    denominator = r"\, ".join(rf"\partial x_{{{k + 1}}}" + (f"^{{{p}}}" if p > 1 else "") for k, p in powers.items())
    order = "" if spec.order == 1 else f"^{{{spec.order}}}"
    return rf"\partial{order} y_{{{spec.output + 1}}} / {denominator}"


def closed_form(what, program, net):
    """Template data: the closed form's entries, or the reason it is left out (too
    large by the estimate or, near the limit, by measure; or no program: the layered
    strategy is for large networks)."""
    title = TITLES[what]
    left_out = {"title": title, "size": None, "limit": CLOSED_FORM_LIMIT, "entries": ()}
    if program is None:
        return left_out
    # a derivative of the spec is estimated as the whole array it is built from: far too
    # large for one entry, so its pruned program is measured instead
    estimated = estimate(net, (what,)).closed_form[what] if what in TITLES else 0
    if estimated > CLOSED_FORM_LIMIT:
        return {**left_out, "size": f"about {rounded(estimated)}"}
    size = closed_form_size(program)
    if size > CLOSED_FORM_LIMIT:
        return {**left_out, "size": size}
    definitions = {a.target: a.expr for a in program.assignments}
    # named x_{k+1}, not x_k+1: that would be the next input's symbol, replaced once more
    definitions.update({x: sp.Symbol(f"x_{{{k + 1}}}", real=True) for k, x in enumerate(program.inputs)})
    definitions.update({s: sp.Symbol(f"{name}_{{{k + 1}}}", real=True)
                        for name, symbols in program.arguments for k, s in enumerate(symbols)})
    printer = BreakableLatexPrinter(definitions)
    block = program.blocks[0]
    entries = []
    for flat, entry in progress.over(list(enumerate(block.entries)), f"LaTeX closed form ({what})"):
        index = unravel(flat, block.shape)
        if (what == "hessian" and index[2] < index[1]) or (_symmetric(what) and index[1] < index[0]):
            continue  # symmetric: the entries with m >= k are shown
        entries.append((_entry_name(what, index, net.n_outputs), printer.doprint(sp.sympify(entry))))
    return {"title": title, "size": size, "limit": CLOSED_FORM_LIMIT, "entries": tuple(entries)}


def _symmetric(what):
    """An expression's Hessian: symmetric, printed for m >= k."""
    spec = spec_of(what)
    return spec.kind == "expression" and spec.what == "hessian"


def render_latex(request):
    net = request.network
    form = IndexForm(net, ExactLatexPrinter().doprint, latex_number).build()
    constants = sum(len(table.rows) * (len(table.header) - 1) for table in form.tables)
    whats = tuple(what for what, _ in request.programs)
    programs = request.programs if request.strategy == "unrolled" else tuple((w, None) for w in whats)
    context = {
        "name": latex_text(request.name),
        "header": tuple(latex_text(line) for line in request.header),
        "header_comments": request.header,
        "n_inputs": net.n_inputs, "n_outputs": net.n_outputs,
        "values": form.values, "first": form.first,
        "second": form.second if "hessian" in whats else (),
        "derivatives": ", ".join(TITLES[what].lower() for what in whats),
        "tables": form.tables if constants <= TABLE_LIMIT else (),
        "constants": constants, "table_limit": TABLE_LIMIT,
        "closed_forms": tuple(closed_form(what, program, net) for what, program in programs),
        "expressions": expression_equations(net, [w for w in whats if spec_of(w).kind == "expression"]),
    }
    return {f"{request.name}_equations.tex": render("latex/equations.tex.j2", **context),
            f"{request.name}.tex": render("latex/document.tex.j2", equations=f"{request.name}_equations",
                                          **context)}

