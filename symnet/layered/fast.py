"""Layered pass: the opt-in fast activations.

In the "fast" mode tanh and the logistic sigmoid are computed by a short,
branch-free approximation (the C backend's c/fast_activations.c.j2), and their
slopes and curvatures from the approximate value a, as 1 - a² and a(1 - a) (and
-2a·d, d(1 - 2a)): the chain rule of the exact function evaluated at the
approximate activation.  ``with_fast_activations`` rewrites the activation forms
of a folded network before its programs are built, so every step downstream
(fusion, memory, emitters) sees ordinary element-wise expressions.
"""

import dataclasses

import sympy as sp

from .network import A, D, N, ActivationForm, LayeredNetwork

#: The modes of ``symnet.generate(activations=...)`` and ``--activations``; "exact" is the default.
ACTIVATION_MODES = ("exact", "fast")

#: The approximate functions, printed by the backends that honour the fast mode.
FAST_TANH = sp.Function("symnet_fast_tanh")
FAST_LOGISTIC = sp.Function("symnet_fast_logistic")

#: Transfer function -> its fast form: value f~(N), slope and curvature written with A = f~(N), D.
FAST_FORMS = {
    "tansig": (FAST_TANH(N), 1 - A**2, -2 * A * D),
    "logsig": (FAST_LOGISTIC(N), A * (1 - A), D * (1 - 2 * A)),
}


def with_fast_activations(layered: LayeredNetwork) -> LayeredNetwork:
    """``layered`` with every tanh and logistic layer in its fast form (other layers unchanged)."""
    layers = tuple(dataclasses.replace(layer, form=_fast_form(layer.form)) for layer in layered.layers)
    return dataclasses.replace(layered, layers=layers)


def _fast_form(form: ActivationForm) -> ActivationForm:
    if form.name not in FAST_FORMS:
        return form
    value, slope, curvature = FAST_FORMS[form.name]
    return ActivationForm(form.name, True, value, slope, curvature)
