"""Running a dynamic network's one-step map over a sequence, and the exact Jacobian of a
k-step rollout by the chain rule over the one-step Jacobians.

A dynamic network (``net.delays`` set, symnet.ir.delays) is a static Network of one time
step: inputs (x(t), state), outputs (y(t), fed-back layer outputs a(t)). Its state is
the vector of its delay inputs in ``net.delays.state_inputs()`` order (for each input k:
x_k(t-1) .. x_k(t-D), then for each fed-back layer j: a_j(t-1) .. a_j(t-L)), and it
advances linearly: every delay moves one place and x(t), a(t) enter at delay 1.
"""

from dataclasses import dataclass

import numpy as np

from .api import derive
from .errors import UnsupportedError


@dataclass(frozen=True)
class StateMap:
    """Where each part of the step's raw input and output vectors lies, and the linear state
    advance s(t) = advance_state @ s(t-1) + advance_input @ x(t) + advance_fed_back @ a(t)."""
    input_columns: np.ndarray       # columns of x(t) (current inputs, in the layout's order)
    state_columns: np.ndarray       # columns of the state, in state order
    output_rows: np.ndarray         # rows of y(t)
    fed_back_rows: np.ndarray       # rows of a(t), fed-back layers in the layout's order
    advance_state: np.ndarray
    advance_input: np.ndarray
    advance_fed_back: np.ndarray


def state_map(net):
    """The StateMap of a one-step Network; UnsupportedError for a static one."""
    layout = net.delays
    if layout is None:
        raise UnsupportedError(f"{net.name} is a static network: it has no delay states")
    columns = _spans([inp.size for inp in net.inputs])
    rows = _spans([net.output_size(out) for out in net.outputs])
    state_inputs = layout.state_inputs()
    offsets = np.cumsum([0] + [net.inputs[i].size for i in state_inputs])
    position = dict(zip(state_inputs, offsets[:-1]))
    by_state = np.zeros((offsets[-1], offsets[-1]))
    by_input = _entering(layout.inputs, [net.inputs[t.current].size for t in layout.inputs], position, by_state)
    by_fed_back = _entering(layout.layers, [net.layers[t.layer].size for t in layout.layers], position, by_state)
    return StateMap(_joined(columns[i] for i in layout.current_inputs()), _joined(columns[i] for i in state_inputs),
                    _joined(rows[o] for o in layout.outputs), _joined(rows[t.output] for t in layout.layers),
                    by_state, by_input, by_fed_back)


def _spans(sizes):
    starts = np.cumsum([0] + list(sizes))
    return [np.arange(a, b) for a, b in zip(starts[:-1], starts[1:])]


def _joined(parts):
    return np.concatenate([np.arange(0)] + list(parts)).astype(int)


def _entering(all_taps, sizes, position, by_state):
    """How the newest values (x(t) or a(t), concatenated) enter the state at delay 1; fills in
    ``by_state`` how delay d takes delay d-1's old value."""
    entering = np.zeros((len(by_state), sum(sizes)))
    offset = 0
    for taps, size in zip(all_taps, sizes):
        if taps.delayed:
            first = position[taps.delayed[0]]
            entering[first:first + size, offset:offset + size] = np.eye(size)
        for older, newer in zip(taps.delayed[1:], taps.delayed[:-1]):
            by_state[position[older]:position[older] + size, position[newer]:position[newer] + size] = np.eye(size)
        offset += size
    return entering


def step_inputs(mapping, x, state):
    """The one-step network's raw input rows from x(t) (n, n_x) and the state (n, n_state)."""
    v = np.zeros((len(x), len(mapping.input_columns) + len(mapping.state_columns)))
    v[:, mapping.input_columns] = x
    v[:, mapping.state_columns] = state
    return v


def simulate(net, X, state):
    """Run a dynamic network over sequences, as MATLAB's function with Xi/Ai does.

    Args:
        net: a one-step Network (``net.delays`` set).
        X: inputs, shape (n_series, n_steps, n_x): x(t) of every step, current inputs concatenated.
        state: initial states, shape (n_series, n_state), in ``net.delays.state_inputs()`` order.
    Returns:
        (Y of shape (n_series, n_steps, n_y), final state of shape (n_series, n_state)).
    """
    mapping, value = state_map(net), derive(net, "value")
    X, state = np.asarray(X, dtype=float), np.asarray(state, dtype=float)
    outputs = []
    for t in range(X.shape[1]):
        out = value(step_inputs(mapping, X[:, t], state))
        outputs.append(out[:, mapping.output_rows])
        state = _advanced(mapping, state, X[:, t], out[:, mapping.fed_back_rows])
    return np.stack(outputs, axis=1), state


def _advanced(mapping, state, x, fed_back):
    return state @ mapping.advance_state.T + x @ mapping.advance_input.T + fed_back @ mapping.advance_fed_back.T


@dataclass(frozen=True)
class Rollout:
    """A k-step rollout and its exact Jacobians (per series, first axis).

    outputs (n, k, n_y); final_state (n, n_state);
    d_outputs_d_state (n, k, n_y, n_state); d_outputs_d_inputs (n, k, n_y, k, n_x) (zero for
    inputs after the output's step); d_final_d_state (n, n_state, n_state);
    d_final_d_inputs (n, n_state, k, n_x)."""
    outputs: np.ndarray
    final_state: np.ndarray
    d_outputs_d_state: np.ndarray
    d_outputs_d_inputs: np.ndarray
    d_final_d_state: np.ndarray
    d_final_d_inputs: np.ndarray


def rollout_jacobian(net, X, state):
    """The exact Jacobian of a k-step rollout with respect to the initial state and every input.

    Built by the chain rule from the one-step Jacobian (``symnet.derive(net, "jacobian")``, exact
    to rounding): with J_t the step's Jacobian, ds_t = A ds_{t-1} + B dx_t + C da_t and
    da_t = J_t[a, x] dx_t + J_t[a, s] ds_{t-1}. Arguments as for ``simulate``.
    Returns:
        Rollout.
    """
    mapping = state_map(net)
    value, jacobian = derive(net, "value"), derive(net, "jacobian")
    X, state = np.asarray(X, dtype=float), np.asarray(state, dtype=float)
    n, k, n_x = X.shape
    n_state = state.shape[1]
    ds = np.broadcast_to(np.eye(n_state), (n, n_state, n_state)).copy()   # d state / d initial state
    dsx = np.zeros((n, n_state, k, n_x))                                    # d state / d inputs
    outputs, dy_ds, dy_dx = [], [], []
    for t in range(k):
        v = step_inputs(mapping, X[:, t], state)
        out, J = value(v), jacobian(v)
        J_x, J_s = J[:, :, mapping.input_columns], J[:, :, mapping.state_columns]
        outputs.append(out[:, mapping.output_rows])
        rows = mapping.output_rows
        dy_ds.append(J_s[:, rows] @ ds)
        here = np.einsum("noj,njtk->notk", J_s[:, rows], dsx)
        here[:, :, t] += J_x[:, rows]
        dy_dx.append(here)
        fed, C = mapping.fed_back_rows, mapping.advance_fed_back
        step_state = mapping.advance_state + np.einsum("ij,njk->nik", C, J_s[:, fed])   # d s_t / d s_{t-1}
        new_ds = step_state @ ds
        new_dsx = np.einsum("nij,njtk->nitk", step_state, dsx)
        new_dsx[:, :, t] += mapping.advance_input + np.einsum("ij,njk->nik", C, J_x[:, fed])
        ds, dsx = new_ds, new_dsx
        state = _advanced(mapping, state, X[:, t], out[:, fed])
    return Rollout(np.stack(outputs, axis=1), state, np.stack(dy_ds, axis=1), np.stack(dy_dx, axis=1), ds, dsx)
