"""symnet's own JSON model format (``format_version`` 1).

Numbers are written by Python's ``json`` module, which prints the shortest
repr that reads back to the same double, so load(save(net)) is bit-exact.
The schema is documented in docs/json-format.md.
"""

import json
import math
from pathlib import Path

import numpy as np

from ..errors import ModelFormatError, SymnetError
from ..ir import STEP_TYPES, Input, Layer, Network, Output, RemoveConstantRows

FORMAT_VERSION = 1

_STEP_FIELDS = {
    "mapminmax": ("xoffset", "gain", "ymin"),
    "mapstd": ("xoffset", "gain", "ymean"),
    "affine": ("scale", "shift"),
    "removeconstantrows": ("n_rows", "keep", "constants"),
}


def load_json(path):
    """Read a symnet JSON model file into a Network."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ModelFormatError("not UTF-8 text, so not a symnet JSON model", path)
    except OSError as error:
        raise ModelFormatError(f"cannot read: {error.strerror or error}", path)
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise ModelFormatError(f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}", path)
    except (ValueError, RecursionError) as error:
        raise ModelFormatError(f"invalid JSON: {error}", path)
    try:
        return network_from_dict(data)
    except SymnetError as error:
        raise error.with_source(path)


def save_json(net, path):
    """Write ``net`` as a symnet JSON model file."""
    Path(path).write_text(json.dumps(network_to_dict(net), indent=1) + "\n", encoding="utf-8")


def _refuse_constant(name):
    raise ModelFormatError(f"{name} is not a valid weight value")


# --- dict -> Network ------------------------------------------------------------

def network_from_dict(data):
    _require(isinstance(data, dict), "the top level must be a JSON object")
    version = data.get("format_version")
    _require(version == FORMAT_VERSION,
             f"format_version must be {FORMAT_VERSION}, got {version!r}")
    _only_keys(data, {"format_version", "name", "inputs", "layers", "outputs"}, "the model")
    inputs = [_input(item, i) for i, item in enumerate(_list(data, "inputs", "the model"), start=1)]
    layers = [_layer(item, i) for i, item in enumerate(_list(data, "layers", "the model"), start=1)]
    outputs = [_output(item, i) for i, item in enumerate(_list(data, "outputs", "the model"), start=1)]
    return Network(inputs, layers, outputs, name=str(data.get("name", "network")))


def _input(item, number):
    where = f"input {number}"
    _require(isinstance(item, dict), f"{where} must be an object")
    _only_keys(item, {"name", "size", "processing", "range"}, where)
    steps = [_step(s, f"{where} step {i}") for i, s in enumerate(item.get("processing", []), start=1)]
    return Input(str(item.get("name", f"x{number}")), _integer(item, "size", where), steps, item.get("range"))


def _output(item, number):
    where = f"output {number}"
    _require(isinstance(item, dict), f"{where} must be an object")
    _only_keys(item, {"name", "layer", "processing"}, where)
    steps = [_step(s, f"{where} step {i}") for i, s in enumerate(item.get("processing", []), start=1)]
    return Output(str(item.get("name", f"y{number}")), _integer(item, "layer", where) - 1, steps)


def _layer(item, number):
    where = f"layer {number}"
    _require(isinstance(item, dict), f"{where} must be an object")
    _only_keys(item, {"name", "size", "transfer", "bias", "input_weights", "layer_weights"}, where)
    name, params = _transfer(item.get("transfer", "purelin"), where)
    try:
        return Layer(
            size=_integer(item, "size", where),
            transfer=name,
            transfer_params=params,
            bias=_numbers(item.get("bias"), f"{where} bias"),
            input_weights=[_connection(c, "input", where) for c in item.get("input_weights", [])],
            layer_weights=[_connection(c, "layer", where) for c in item.get("layer_weights", [])],
            name=str(item.get("name", "")),
        )
    except SymnetError as error:
        raise type(error)(f"{where}: {error.problem}") from None


def _transfer(value, where):
    if isinstance(value, str):
        return value, ()
    _require(isinstance(value, dict) and isinstance(value.get("name"), str),
             f"{where}: transfer must be a name or an object with a name")
    return value["name"], tuple((k, _parameter(v, f"{where} transfer {k}")) for k, v in value.items() if k != "name")


def _parameter(value, where):
    """A number, or text for parameters that are element-wise expressions."""
    return value if isinstance(value, str) else _number(value, where)


def _connection(item, kind, where):
    _require(isinstance(item, dict), f"{where}: each {kind} connection must be an object")
    _only_keys(item, {kind, "weights"}, f"{where} {kind} connection")
    source = _integer(item, kind, f"{where} {kind} connection") - 1
    return source, _numbers(item.get("weights"), f"{where} weights from {kind} {source + 1}")


def _step(item, where):
    _require(isinstance(item, dict), f"{where} must be an object")
    kind = item.get("type")
    _require(kind in STEP_TYPES, f"{where}: unknown processing type {kind!r}"
             f" (supported: {', '.join(sorted(STEP_TYPES))})")
    fields = _STEP_FIELDS[kind]
    _only_keys(item, set(fields) | {"type"}, where)
    if kind == "removeconstantrows":
        return RemoveConstantRows(_integer(item, "n_rows", where),
                                  tuple(_numbers(item.get("keep", []), f"{where} keep")),
                                  tuple(_numbers(item.get("constants", []), f"{where} constants")))
    missing = [f for f in fields if f not in item]
    _require(not missing, f"{where}: {kind} needs {', '.join(missing)}")
    values = [_numbers(item[f], f"{where} {f}") for f in fields]
    try:
        return STEP_TYPES[kind](*values)
    except SymnetError as error:
        raise type(error)(f"{where}: {error.problem}") from None


# --- validation helpers -----------------------------------------------------------

def _require(condition, problem):
    if not condition:
        raise ModelFormatError(problem)


def _only_keys(item, allowed, where):
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise ModelFormatError(f"{where} has unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _list(item, key, where):
    value = item.get(key)
    _require(isinstance(value, list), f"{where} needs a list {key!r}")
    return value


def _integer(item, key, where):
    value = item.get(key)
    _require(isinstance(value, int) and not isinstance(value, bool), f"{where} needs an integer {key!r}")
    return value


def _number(value, where):
    _require(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
             f"{where} must be a finite number")
    return float(value)


def _numbers(value, where):
    """A number, a list of numbers or a list of equal-length lists, as a float array."""
    _require(value is not None, f"{where} is missing")
    try:
        array = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise ModelFormatError(f"{where} must be numbers, in a list or a list of equal-length rows")
    _require(array.ndim <= 2, f"{where} must be a number, a vector or a matrix")
    _require(bool(np.all(np.isfinite(array))), f"{where} contains NaN or Inf")
    return array


# --- Network -> dict -----------------------------------------------------------------

def network_to_dict(net):
    return {
        "format_version": FORMAT_VERSION,
        "name": net.name,
        "inputs": [_input_dict(inp) for inp in net.inputs],
        "layers": [_layer_dict(layer) for layer in net.layers],
        "outputs": [_output_dict(out) for out in net.outputs],
    }


def _input_dict(inp):
    data = {"name": inp.name, "size": inp.size, "processing": [_step_dict(s) for s in inp.steps]}
    if inp.value_range is not None:
        data["range"] = inp.value_range.tolist()
    return data


def _output_dict(out):
    return {"name": out.name, "layer": out.layer + 1, "processing": [_step_dict(s) for s in out.steps]}


def _layer_dict(layer):
    transfer = layer.transfer
    if layer.transfer_params:
        transfer = {"name": layer.transfer, **dict(layer.transfer_params)}
    data = {"name": layer.name, "size": layer.size, "transfer": transfer, "bias": layer.bias.tolist()}
    data["input_weights"] = [{"input": s + 1, "weights": w.tolist()} for s, w in layer.input_weights]
    data["layer_weights"] = [{"layer": s + 1, "weights": w.tolist()} for s, w in layer.layer_weights]
    return data


def _step_dict(step):
    data = {"type": step.kind}
    for field in _STEP_FIELDS[step.kind]:
        value = getattr(step, field)
        data[field] = value.tolist() if isinstance(value, np.ndarray) else (
            list(value) if isinstance(value, tuple) else value)
    return data
