"""Plain-text descriptions of a network: for ``symnet inspect`` and for the
header of every generated file."""

from .ir import transfer as transfer_registry

_STEP_WORDS = {
    "mapminmax": "mapminmax: (x - xoffset)*gain + ymin",
    "mapstd": "mapstd: (x - xoffset)*gain + ymean",
    "affine": "affine: scale*x + shift",
    "removeconstantrows": "removeconstantrows",
}


def step_text(step):
    text = _STEP_WORDS[step.kind]
    if step.kind == "removeconstantrows":
        return f"{text}: keeps {step.out_size} of {step.in_size} rows"
    return text


def transfer_text(layer):
    params = ", ".join(f"{k}={v!r}" for k, v in layer.transfer_params)
    return f"{layer.transfer}({params})" if params else layer.transfer


def describe(net, clean=str):
    """Lines describing the architecture and normalization; ``clean`` makes names safe."""
    lines = [f"model: {clean(net.name)}",
             f"inputs: {net.n_inputs} raw values; outputs: {net.n_outputs} raw values;"
             f" parameters: {net.parameter_count}"]
    start = 0
    for number, inp in enumerate(net.inputs, start=1):
        span = _span(start, inp.size)
        lines.append(f"input {number} {clean(inp.name)!s}: x{span}, {inp.size} values")
        lines.extend(f"  step {i}: {step_text(step)}" for i, step in enumerate(inp.steps, start=1))
        start += inp.size
    for number, layer in enumerate(net.layers, start=1):
        sources = [f"input {s + 1}" for s, _ in layer.input_weights]
        sources += [f"layer {s + 1}" for s, _ in layer.layer_weights]
        lines.append(f"layer {number}: {layer.size} units, {clean(transfer_text(layer))},"
                     f" from {', '.join(sources) or 'bias only'}")
    start = 0
    for number, output in enumerate(net.outputs, start=1):
        size = net.output_size(output)
        lines.append(f"output {number} {clean(output.name)}: y{_span(start, size)},"
                     f" {size} values from layer {output.layer + 1}")
        lines.extend(f"  step {i} (undone in reverse order): {step_text(step)}"
                     for i, step in enumerate(output.steps, start=1))
        lines.extend(f"  output map (applied last): u = {clean(text)}" for text in output.output_map)
        start += size
    if net.delays is not None:
        lines.extend(clean(line) for line in net.delays.describe(net))
    return lines


def _span(start, size):
    return f"[{start}]" if size == 1 else f"[{start}..{start + size - 1}]"


def supported_transfer_text():
    return ", ".join(transfer_registry.supported_names())
