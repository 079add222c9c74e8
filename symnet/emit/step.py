"""The step function of a dynamic network (a Network with ``delays``, symnet.ir.delays):
one time step that also advances the delay state, written next to the generated
``evaluate`` of the one-step map in the targets whose Backend names step templates.

    step(x(t), state) -> (y(t), next state)

The state is the one-step map's delay inputs in ``net.delays.state_inputs()`` order; the
function gathers (x(t), state) into the map's raw inputs, calls ``evaluate`` and moves
every delay one place, x(t) and the fed-back layer outputs a(t) entering at delay 1.
"""

from .common import render


def step_data(net, base):
    """Plain data for the step templates; indices start at ``base``."""
    layout = net.delays
    starts = _starts([inp.size for inp in net.inputs])
    out_starts = _starts([net.output_size(out) for out in net.outputs])
    gather, x_at, state_at = [None] * net.n_inputs, {}, {}
    position = 0
    for i in layout.current_inputs():
        for e in range(net.inputs[i].size):
            gather[starts[i] + e] = ("x", position + base)
            x_at[(i, e)] = position + base
            position += 1
    n_x, position = position, 0
    for i in layout.state_inputs():
        for e in range(net.inputs[i].size):
            gather[starts[i] + e] = ("state", position + base)
            state_at[(i, e)] = position + base
            position += 1
    advance = [None] * position
    for taps in layout.inputs:
        _shift(advance, taps.delayed, net, state_at, base,
               lambda e, current=taps.current: ("x", x_at[(current, e)]))
    for taps in layout.layers:
        _shift(advance, taps.delayed, net, state_at, base,
               lambda e, output=taps.output: ("out", out_starts[output] + e + base))
    outputs = [out_starts[o] + e + base for o in layout.outputs for e in range(net.output_size(net.outputs[o]))]
    return {"n_x": n_x, "n_state": position, "n_y": len(outputs), "n_inputs": net.n_inputs,
            "n_outputs": net.n_outputs, "gather": [(p + base, kind, j) for p, (kind, j) in enumerate(gather)],
            "outputs": [(i + base, j) for i, j in enumerate(outputs)],
            "advance": [(i + base, kind, j) for i, (kind, j) in enumerate(advance)]}


def _starts(sizes):
    starts, total = [], 0
    for size in sizes:
        starts.append(total)
        total += size
    return starts


def _shift(advance, delayed, net, state_at, base, newest):
    """Delay 1 takes the newest value; delay d takes delay d-1's old value."""
    for d, i in enumerate(delayed):
        for e in range(net.inputs[i].size):
            target = state_at[(i, e)] - base
            advance[target] = newest(e) if d == 0 else ("state", state_at[(delayed[d - 1], e)])


def render_step(backend, request, **context):
    """{file name: text} of the backend's step files; none for a static network."""
    if request.network.delays is None or not backend.step_files:
        return {}
    data = step_data(request.network, backend.index_base)
    return {pattern.format(name=request.name): render(template, name=request.name, macro=request.name.upper(),
                                                      header=request.header, precision=request.precision,
                                                      **data, **context)
            for template, pattern in backend.step_files}
