"""A network along straight lines through its training range: each raw input swept
across its range while the others stay at a centre point.  The numbers behind the
partial-dependence and derivative-check pictures."""

from dataclasses import dataclass

import numpy as np

from .reference.finite_differences import finite_difference_jacobian


def axis_line(net, centre, k, count):
    """(count, n_inputs) points: input ``k`` evenly across its training range, the others at ``centre``."""
    low, high = net.input_range()[k]
    line = np.repeat(np.asarray(centre, dtype=float)[None, :], count, axis=0)
    line[:, k] = np.linspace(low, high, count)
    return line


def partial_dependence(net, centre, k, count=101):
    """Input ``k``'s values along its line and the raw outputs there: ((count,), (count, n_outputs))."""
    line = axis_line(net, centre, k, count)
    return line[:, k], net.evaluate(line)


@dataclass(frozen=True)
class DerivativeSlice:
    """dy/dx_k along input ``k``'s line: symnet's exact value on a fine grid and central
    finite differences (symnet.reference.finite_differences) on a coarser one, every output at once."""

    k: int
    grid: np.ndarray              # (n_fine,) values of input k
    exact: np.ndarray             # (n_fine, n_outputs)
    coarse_grid: np.ndarray       # (n_coarse,)
    finite_difference: np.ndarray  # (n_coarse, n_outputs)
    exact_at_coarse: np.ndarray   # (n_coarse, n_outputs), to measure the agreement


def derivative_slice(net, jacobian, centre, k, fine=201, coarse=21):
    """Symnet's ``jacobian`` (a Derivative) against finite differences along input ``k``'s line."""
    line, coarse_line = axis_line(net, centre, k, fine), axis_line(net, centre, k, coarse)
    return DerivativeSlice(k=k, grid=line[:, k], exact=jacobian(line)[:, :, k],
                           coarse_grid=coarse_line[:, k],
                           finite_difference=finite_difference_jacobian(net, coarse_line)[:, :, k],
                           exact_at_coarse=jacobian(coarse_line)[:, :, k])
