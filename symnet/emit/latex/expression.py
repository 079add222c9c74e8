"""The LaTeX of user expressions (symnet.ir.expression_spec): each formula in the user's
notation, y_xx as \\frac{\\partial^{2} y}{\\partial x^{2}}, and its gradient (and Hessian)
by the chain rule over the partial derivatives it reads."""

import sympy as sp

from ...ir.derivative_spec import scalar_names
from .printer import ExactLatexPrinter


def expression_equations(net, names):
    """Template data, one entry per expression (in order): its name, formula, gradient and,
    where its Hessian is emitted, Hessian, as LaTeX math; and its parameters."""
    outputs, inputs = _display(net.outputs, net.n_outputs, "y"), _display(net.inputs, net.n_inputs, "x")
    by_base = {}
    for what in names:
        by_base.setdefault(what.spec.base, []).append(what.spec)
    entries = []
    for specs in by_base.values():
        spec = specs[0]
        printer = ExactLatexPrinter({"symbol_names": _symbol_names(spec, outputs, inputs)})
        name = sp.latex(sp.Symbol(spec.base))
        expression = sp.sympify(spec.user.expression)
        quantities = [(q.symbol, _quantity(q, outputs, inputs)) for q in spec.user.quantities]
        entries.append({
            "name": name,
            "formula": printer.doprint(expression),
            "gradient": _first(expression, quantities, printer),
            "hessian": _second(expression, quantities, printer) if any(s.what == "hessian" for s in specs) else None,
            "parameters": ", ".join(f"${sp.latex(sp.Symbol(p))}$ ({size} number{'s' if size > 1 else ''})"
                                    for p, size in spec.parameters),
        })
    return tuple(entries)


def _display(blocks, count, prefix):
    """LaTeX of each scalar output or input: the model's own name where it has one (as the
    user writes it in an expression), else y_{i}; y alone for a single unnamed output."""
    names = [None] * count
    for name, index in scalar_names(blocks, count, prefix).items():
        if not (name.startswith(prefix) and name[len(prefix):].isdigit()):
            names[index] = sp.latex(sp.Symbol(name))
    fallback = [prefix if count == 1 and prefix == "y" else f"{prefix}_{{{i + 1}}}" for i in range(count)]
    return [own or default for own, default in zip(names, fallback)]


def _quantity(q, outputs, inputs):
    if not q.inputs:
        return outputs[q.output]
    powers = {}
    for k in q.inputs:
        powers[k] = powers.get(k, 0) + 1
    order = "" if len(q.inputs) == 1 else f"^{{{len(q.inputs)}}}"
    denominator = r"\, ".join(rf"\partial {inputs[k]}" + (f"^{{{p}}}" if p > 1 else "") for k, p in powers.items())
    return rf"\frac{{\partial{order} {outputs[q.output]}}}{{{denominator}}}"


def _symbol_names(spec, outputs, inputs):
    names = {q.symbol: _quantity(q, outputs, inputs) for q in spec.user.quantities}
    for name, _, symbols in spec.user.parameters:
        for i, symbol in enumerate(symbols):
            base = sp.latex(sp.Symbol(name))
            names[symbol] = base if len(symbols) == 1 else f"{{{base}}}_{{{i + 1}}}"
    return names


def _factor(expr, printer):
    text = printer.doprint(expr)
    return f"\\left({text}\\right)" if isinstance(expr, sp.Add) else text


def _first(expression, quantities, printer):
    r"""\sum_q (\partial E/\partial q)\, \partial_k q, the terms that are not zero."""
    return _joined([_term(sp.diff(expression, symbol), rf"\partial_k {text}", printer)
                    for symbol, text in quantities])


def _joined(terms):
    """The terms (None: a zero term, left out) as a sum, a term that starts with a minus sign
    subtracted."""
    return " + ".join(term for term in terms if term is not None).replace("+ - ", "- ") or "0"


def _second(expression, quantities, printer):
    terms = [_term(sp.diff(expression, symbol, other), rf"\partial_k {text}\, \partial_m {other_text}", printer)
             for symbol, text in quantities for other, other_text in quantities]
    terms += [_term(sp.diff(expression, symbol), rf"\partial_{{km}} {text}", printer) for symbol, text in quantities]
    return _joined(terms)


def _term(coefficient, text, printer):
    """``text`` times ``coefficient`` (None where the coefficient is zero)."""
    if coefficient == 0:
        return None
    return text if coefficient == 1 else _factor(coefficient, printer) + r"\, " + text
