"""PNG pictures of sensitivities and of the derivative check (optional extra: matplotlib).

Figures are drawn on matplotlib's Agg canvas directly, without pyplot, so that
drawing never changes the backend or the open figures of the caller's session.
The PNG metadata leave out matplotlib's version, so the same input gives the same bytes.
"""

import numpy as np

from .errors import MissingExtraError, printable
from .slices import derivative_slice, partial_dependence

#: Largest grid drawn: outputs (rows) and inputs (columns); the rest is named in the title.
MAX_OUTPUTS = 6
MAX_INPUTS = 6
#: Bars per sensitivity chart (the largest ones).
MAX_BARS = 10
_PANEL = (3.4, 2.7)   # inches per panel: width, height
_LABEL_LENGTH = 22


def require_matplotlib():
    """Raise MissingExtraError unless matplotlib can be imported; call before long computations."""
    _figure_class()


def _figure_class():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtraError("drawing plots needs matplotlib: pip install symnet[plot]") from None
    return Figure, FigureCanvasAgg


def label(name):
    """A name from a model file as plot text: one line, shortened, ``$`` not read as mathtext."""
    return printable(name, _LABEL_LENGTH).replace("$", r"\$")


def _new_figure(rows, columns):
    Figure, FigureCanvasAgg = _figure_class()
    figure = Figure(figsize=(_PANEL[0] * columns, _PANEL[1] * rows + 0.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False)
    return figure, axes


def _save(figure, path):
    figure.savefig(path, format="png", dpi=90, metadata={"Software": None})


def _shown(count, limit, noun):
    """Caption for a capped list: '' when everything is shown."""
    return "" if count <= limit else f"{limit} of {count} {noun}"


def _caption(title, *notes):
    notes = [note for note in notes if note]
    return title + (f"\n(showing {', '.join(notes)})" if notes else "")


# --- sensitivity --------------------------------------------------------------------

def plot_sensitivity(net, result, path):
    """One row per output: a bar chart of the range-scaled sensitivity to each input, then
    the output against each of the most influential inputs across its training range,
    the other inputs held at the median of the points."""
    outputs = list(range(min(len(result.output_names), MAX_OUTPUTS)))
    strongest = np.max(result.scaled_mean_abs[outputs], axis=0)
    inputs = sorted(np.argsort(-strongest, kind="stable")[:MAX_INPUTS].tolist())
    figure, axes = _new_figure(len(outputs), 1 + len(inputs))
    slices = {k: partial_dependence(net, result.median_point, k) for k in inputs}
    for row, i in enumerate(outputs):
        _sensitivity_bars(axes[row, 0], result, i)
        for column, k in enumerate(inputs, start=1):
            _dependence_panel(axes[row, column], result, i, k, slices[k])
    figure.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower left", ncols=2,
                  fontsize="small")
    figure.suptitle(_caption(
        f"{label(net.name)}: sensitivity at {len(result.points)} points; each output against the strongest"
        " inputs\nacross their training range, the other inputs at the median of the points (dashed)",
        _shown(len(result.output_names), MAX_OUTPUTS, "outputs"),
        _shown(len(result.input_names), MAX_INPUTS, "inputs in the slices")))
    _save(figure, path)


def _sensitivity_bars(ax, result, i):
    order = np.argsort(-result.scaled_mean_abs[i], kind="stable")[:MAX_BARS][::-1]
    places = np.arange(len(order))
    ax.barh(places, result.scaled_mean_abs[i, order], color="tab:blue", label="mean |dy/dx|·range")
    ax.plot(result.scaled_mean[i, order], places, "kd", markersize=4, label="mean dy/dx·range")
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set_yticks(places, [label(result.input_names[k]) for k in order], fontsize="small")
    capped = "" if len(result.input_names) <= MAX_BARS else f" ({MAX_BARS} largest)"
    ax.set_title(f"sensitivity of {label(result.output_names[i])}{capped}", fontsize="medium")
    ax.set_xlabel(f"change of {label(result.output_names[i])} per input range")


def _dependence_panel(ax, result, i, k, dependence):
    grid, values = dependence
    ax.plot(grid, values[:, i], color="tab:green")
    ax.axvline(result.median_point[k], color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel(label(result.input_names[k]))
    ax.set_ylabel(label(result.output_names[i]))


# --- derivative check -----------------------------------------------------------------

def plot_check(net, jacobian, X, path, input_names, output_names):
    """One panel per output and input: symnet's dy_i/dx_k (line) and central finite
    differences (dots) along input k's training range, the other inputs at the median of X."""
    outputs = range(min(net.n_outputs, MAX_OUTPUTS))
    inputs = range(min(net.n_inputs, MAX_INPUTS))
    centre = np.median(X, axis=0)
    figure, axes = _new_figure(len(outputs), len(inputs))
    for column, k in enumerate(inputs):
        piece = derivative_slice(net, jacobian, centre, k)
        for row, i in enumerate(outputs):
            _check_panel(axes[row, column], piece, i, output_names[i], input_names[k],
                         legend=row == column == 0)
    figure.suptitle(_caption(
        f"{label(net.name)}: symnet's derivative (line) and central finite differences (dots),"
        "\neach input across its training range, the others at the median of the checked points",
        _shown(net.n_outputs, MAX_OUTPUTS, "outputs"), _shown(net.n_inputs, MAX_INPUTS, "inputs")))
    _save(figure, path)


def _check_panel(ax, piece, i, output_name, input_name, legend):
    ax.plot(piece.grid, piece.exact[:, i], color="tab:blue", label="symnet")
    ax.plot(piece.coarse_grid, piece.finite_difference[:, i], "o", color="tab:orange",
            markersize=3.5, label="finite differences")
    error = np.max(np.abs(piece.exact_at_coarse[:, i] - piece.finite_difference[:, i]))
    scale = max(np.max(np.abs(piece.finite_difference[:, i])), np.finfo(float).tiny)
    ax.set_title(f"∂{label(output_name)} / ∂{label(input_name)}\nmax rel. difference {error / scale:.1e}",
                 fontsize="medium")
    ax.set_xlabel(label(input_name))
    if legend:
        ax.legend(fontsize="x-small")
