"""symnet's own JSON model format (``format_version`` 1).

Numbers are written by Python's ``json`` module, which prints the shortest
repr that reads back to the same double, so load(save(net)) is bit-exact.
The schema is documented in docs/json-format.md.
"""

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import ModelFormatError, SizeLimitError, SymnetError
from ..ir.network import STEP_TYPES, Input, Layer, Network, Output, RemoveConstantRows

FORMAT_VERSION = 1

#: Largest model file read (checked before reading, so a huge file fails at once).
MAX_FILE_BYTES = 512 * 2**20

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
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SizeLimitError(f"larger than the limit of {MAX_FILE_BYTES // 2**20} MiB for a JSON model", path)
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ModelFormatError(f"not UTF-8 text (byte {error.start}), so not a symnet JSON model", path)
    except OSError as error:
        raise ModelFormatError(f"cannot read: {error.strerror or error}", path)
    try:
        return network_from_dict(parse(text))
    except SymnetError as error:
        raise error.with_source(path)


def parse(text):
    """The JSON value of ``text``: NaN, Infinity and repeated keys are refused."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        raise ModelFormatError(f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}")
    except RecursionError:
        raise ModelFormatError("invalid JSON: nested too deeply")
    except ValueError as error:   # e.g. an integer with more digits than Python converts
        raise ModelFormatError(f"invalid JSON: {error}")


def _unique_keys(pairs):
    """``dict(pairs)``, refusing a repeated key (in linear time: files can hold many keys)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        counts = Counter(key for key, _ in pairs)
        repeated = min(key for key, count in counts.items() if count > 1)
        raise ModelFormatError(f"the key {_short(repeated)!r} appears twice in one object")
    return result


def _short(text, limit=60):
    text = str(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


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
    return Network(inputs, layers, outputs, name=_text(data, "name", "network", "the model"))


def _input(item, number):
    where = f"input {number}"
    _require(isinstance(item, dict), f"{where} must be an object")
    _only_keys(item, {"name", "size", "processing", "range"}, where)
    steps = [_step(s, f"{where} step {i}") for i, s in enumerate(_list(item, "processing", where, []), start=1)]
    value_range = item.get("range")
    if value_range is not None:
        value_range = _numbers(value_range, f"{where} range")
    return Input(_text(item, "name", f"x{number}", where), _integer(item, "size", where), steps, value_range)


def _output(item, number):
    where = f"output {number}"
    _require(isinstance(item, dict), f"{where} must be an object")
    _only_keys(item, {"name", "layer", "processing", "map"}, where)
    steps = [_step(s, f"{where} step {i}") for i, s in enumerate(_list(item, "processing", where, []), start=1)]
    return Output(_text(item, "name", f"y{number}", where), _integer(item, "layer", where) - 1, steps,
                  _output_map(item.get("map", ()), where))


def _output_map(value, where):
    """Text, or a list of texts (one per row); parsed when the Network is built."""
    texts = [value] if isinstance(value, str) else value
    _require(isinstance(texts, (list, tuple)) and all(isinstance(t, str) for t in texts),
             f"{where} map must be expression text or a list of texts")
    return tuple(texts)


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
            input_weights=[_connection(c, "input", where) for c in _list(item, "input_weights", where, [])],
            layer_weights=[_connection(c, "layer", where) for c in _list(item, "layer_weights", where, [])],
            name=_text(item, "name", "", where),
        )
    except SymnetError as error:
        problem = error.problem if error.problem.startswith(where) else f"{where}: {error.problem}"
        raise type(error)(problem) from None


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
    _require(isinstance(kind, str) and kind in STEP_TYPES, f"{where}: unknown processing type {_short(kind)!r}"
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


def _list(item, key, where, default=None):
    value = item.get(key, default)
    _require(isinstance(value, list), f"{where} needs a list {key!r}")
    return value


def _text(item, key, default, where):
    value = item.get(key, default)
    _require(isinstance(value, str), f"{where}: {key!r} must be text")
    return value


def _integer(item, key, where):
    value = item.get(key)
    _require(isinstance(value, int) and not isinstance(value, bool), f"{where} needs an integer {key!r}")
    return value


def _number(value, where):
    _require(isinstance(value, (int, float)) and not isinstance(value, bool), f"{where} must be a finite number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    _require(math.isfinite(number), f"{where} must be a finite number")
    return number


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(value, where):
    """A number, a list of numbers or a list of equal-length lists, as a float array."""
    _require(value is not None, f"{where} is missing")
    rows = value if isinstance(value, list) else [value]
    _require(all(_is_number(v) for row in rows for v in (row if isinstance(row, list) else [row])),
             f"{where} must be numbers, in a list or a list of equal-length rows")
    try:
        array = np.array(value, dtype=float)
    except OverflowError:
        raise ModelFormatError(f"{where} contains a number too large for a double")
    except (TypeError, ValueError, RecursionError):
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
    data = {"name": out.name, "layer": out.layer + 1, "processing": [_step_dict(s) for s in out.steps]}
    if out.output_map:
        data["map"] = out.output_map[0] if len(out.output_map) == 1 else list(out.output_map)
    return data


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
