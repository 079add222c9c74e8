"""MAT-files written by ``matlab/symnet_export.m`` as networks.

The exporter saves a MATLAB ``network`` object as plain structs and cells
(MAT version 7), which ``scipy.io.loadmat`` reads: IW, LW and b as cells,
the connection matrices, layer sizes and transfer functions, and every
input's and output's processFcns with their processSettings. Processing
functions other than mapminmax, mapstd and removeconstantrows are refused by
name, as are weight or net input functions other than dotprod and netsum. A
network with input or layer delays (timedelaynet, narxnet, layrecnet,
distdelaynet) is read as its one-step map (symnet.ir.delays).
"""

import numpy as np

from ..errors import ModelFormatError, UnsupportedError
from ..ir.delays import DynamicLayer, TappedWeights, one_step_network
from ..ir.network import Input, Layer, MapMinMax, MapStd, Network, Output, RemoveConstantRows
from .mat_reader import read_variable

VARIABLE = "symnet_network"
PROCESSING = ("mapminmax", "mapstd", "removeconstantrows")


def load_mat(path):
    """Read a MAT-file written by symnet_export into a Network."""
    # scipy's reader can crash on a malformed file: it runs in a child process (mat_reader)
    status, value = read_variable(path, VARIABLE)
    if status == "version 7.3":
        raise ModelFormatError("MAT-files of version 7.3 (HDF5) are not read; write the file with"
                               " symnet_export(net, 'file.mat'), which saves version 7")
    if status == "error":
        raise ModelFormatError(f"not a readable MAT-file ({value})")
    if status == "missing":
        raise ModelFormatError(f"no variable {VARIABLE!r}: write the file in MATLAB or Octave with"
                               " symnet_export(net, 'file.mat') (matlab/symnet_export.m)")
    return network_from_struct(_struct(value, VARIABLE))


def network_from_struct(s):
    version = _count(_field(s, "version", "the file"), "version")
    if version != 1:
        raise UnsupportedError(f"export version {version} is newer than this symnet reads (1)")
    n_inputs = _count(_field(s, "numInputs", "the network"), "numInputs")
    n_layers = _count(_field(s, "numLayers", "the network"), "numLayers")
    input_connect = _connections(s, "inputConnect", (n_layers, n_inputs))
    layer_connect = _connections(s, "layerConnect", (n_layers, n_layers))
    bias_connect = _connections(s, "biasConnect", (n_layers, 1))
    output_connect = _connections(s, "outputConnect", (1, n_layers))
    inputs = [_input(item, i) for i, item in enumerate(_cells(_field(s, "inputs", "the network"), n_inputs))]
    layer_items = _cells(_field(s, "layers", "the network"), n_layers)
    iw, iw_delays = _weight_cells(s, "IW", "inputWeights", input_connect)
    lw, lw_delays = _weight_cells(s, "LW", "layerWeights", layer_connect)
    dynamic = any(d != (0,) for row in iw_delays + lw_delays for d in row if d is not None)
    biases = _cells(_field(s, "b", "the network"), n_layers)
    layers = []
    for i, item in enumerate(layer_items):
        item = _struct(item, f"layer {i + 1}")
        size = _count(_field(item, "size", f"layer {i + 1}"), f"layer {i + 1} size")
        bias = _vector(biases[i], f"b{{{i + 1}}}") if bias_connect[i, 0] else np.zeros(size)
        from_inputs = [j for j in range(n_inputs) if input_connect[i, j]]
        from_layers = [j for j in range(n_layers) if layer_connect[i, j]]
        if dynamic:
            layers.append(DynamicLayer(size, _transfer(item, i), bias,
                                       [TappedWeights(j, iw_delays[i][j], iw[i][j]) for j in from_inputs],
                                       [TappedWeights(j, lw_delays[i][j], lw[i][j]) for j in from_layers],
                                       name=f"layer{i + 1}"))
        else:
            layers.append(Layer(size, _transfer(item, i), bias, [(j, iw[i][j]) for j in from_inputs],
                                [(j, lw[i][j]) for j in from_layers], name=f"layer{i + 1}"))
    output_items = _cells(_field(s, "outputs", "the network"), n_layers)
    outputs = [Output(f"y{n + 1}", i, _steps(_struct(output_items[i], f"output {n + 1}"), f"output {n + 1}",
                                             reverse=True))
               for n, i in enumerate(np.flatnonzero(output_connect[0]))]
    name = _text(s.name) if hasattr(s, "name") and _text(s.name) else "network"
    if dynamic:
        return one_step_network(inputs, layers, outputs, name=name)
    return Network(inputs, layers, outputs, name=name)


def _input(item, i):
    where = f"input {i + 1}"
    item = _struct(item, where)
    size = _count(_field(item, "size", where), f"{where} size")
    return Input(f"x{i + 1}", size, _steps(item, where, reverse=False))


def _transfer(item, i):
    net_input = _text(getattr(item, "netInputFcn", np.array([])))
    if net_input not in ("", "netsum"):
        raise UnsupportedError(f"layer {i + 1} uses the net input function {net_input!r}; only netsum is read")
    return _text(_field(item, "transferFcn", f"layer {i + 1}"))


def _weight_cells(s, name, details_name, connect):
    """Weight matrices and their delays (tuples) by [i][j], checking that each connection is a
    plain dotprod."""
    n_rows, n_columns = connect.shape
    values = _cell_grid(_field(s, name, "the network"), connect.shape, name)
    details = _cell_grid(_field(s, details_name, "the network"), connect.shape, details_name)
    matrices = [[None] * n_columns for _ in range(n_rows)]
    delays = [[None] * n_columns for _ in range(n_rows)]
    for i, j in zip(*np.nonzero(connect)):
        where = f"{name}{{{i + 1},{j + 1}}}"
        detail = _struct(details[i, j], where)
        function = _text(getattr(detail, "weightFcn", np.array([])))
        if function not in ("", "dotprod"):
            raise UnsupportedError(f"{where} uses the weight function {function!r}; only dotprod is read")
        taps = np.reshape(_floats(getattr(detail, "delays", 0), f"{where} delays"), -1)
        if taps.size == 0 or np.any(taps != np.round(taps)) or np.any(taps < 0) or len(set(taps)) != taps.size:
            raise ModelFormatError(f"{where} delays must be distinct whole numbers, not negative")
        delays[i][j] = tuple(int(d) for d in taps)
        matrices[i][j] = np.atleast_2d(_floats(values[i, j], where))
    return matrices, delays


def _steps(item, where, reverse):
    """IR steps from processFcns/processSettings, in the order they are applied to the data."""
    functions = [_text(f) for f in _cells(_field(item, "processFcns", where))]
    settings = _cells(_field(item, "processSettings", where), len(functions))
    steps = []
    for k, (function, setting) in enumerate(zip(functions, settings), start=1):
        label = f"{where} processing {k} ({function})"
        if function not in PROCESSING:
            raise UnsupportedError(f"{where}: processing function {function!r} is not supported"
                                   f" (supported: {', '.join(PROCESSING)})")
        steps.append(_step(function, _struct(setting, label), label, reverse))
    return steps


def _step(function, setting, label, reverse):
    def get(name):
        values = np.reshape(_floats(_field(setting, name, label), f"{label} {name}"), -1)
        if not np.all(np.isfinite(values)):
            raise ModelFormatError(f"{label} {name} contains NaN or Inf")
        return values
    if function == "mapminmax":
        return MapMinMax(get("xoffset"), get("gain"), get("ymin"))
    if function == "mapstd":
        return MapStd(get("xoffset"), get("gain"), get("ymean"))
    keep = get("keep")
    if np.any(keep != np.round(keep)):
        raise ModelFormatError(f"{label} keep must hold whole row numbers")
    keep = tuple(int(k) - 1 for k in keep)
    n_rows = _count(_field(setting, "xrows", label), f"{label} xrows")
    if not reverse:
        return RemoveConstantRows(n_rows, keep)
    remove = get("remove").astype(int) - 1 if hasattr(setting, "remove") else np.zeros(0, int)
    values = get("constants") if hasattr(setting, "constants") else get("value") if remove.size else np.zeros(0)
    if values.size != remove.size:
        raise ModelFormatError(f"{label}: {remove.size} removed rows but {values.size} constant values")
    return RemoveConstantRows(n_rows, keep, tuple(values[np.argsort(remove)]))


# --- reading scipy's view of MATLAB values --------------------------------------------------

def _field(struct, name, where):
    if not hasattr(struct, name):
        raise ModelFormatError(f"{where} lacks the field {name!r}")
    return getattr(struct, name)


def _struct(value, where="value"):
    if hasattr(value, "_fieldnames"):
        return value
    array = np.asarray(value, dtype=object)
    if array.size == 1 and hasattr(array.reshape(-1)[0], "_fieldnames"):
        return array.reshape(-1)[0]
    raise ModelFormatError(f"{where} must be a struct")


def _cells(value, count=None):
    array = np.asarray(value, dtype=object)
    items = list(array.reshape(-1, order="F")) if array.size else []
    if count is not None and len(items) != count:
        raise ModelFormatError(f"expected {count} cells, found {len(items)}")
    return items


def _cell_grid(value, shape, name):
    array = np.asarray(value, dtype=object)
    if array.shape != shape and not (array.size == 0 and 0 in shape):
        raise ModelFormatError(f"{name} is a {array.shape} cell array, expected {shape}")
    return array


def _floats(value, what):
    """``value`` as a float array; ModelFormatError when it holds text or other non-numbers."""
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ModelFormatError(f"{what} must be numeric") from None


def _connections(s, name, shape):
    array = _floats(_field(s, name, "the network"), name)
    if array.size == 0 and 0 in shape:
        return np.zeros(shape, dtype=bool)
    if array.shape != shape:
        raise ModelFormatError(f"{name} has shape {array.shape}, expected {shape}")
    return array != 0


def _text(value):
    array = np.asarray(value)
    return str(array.reshape(-1)[0]) if array.size else ""


def _count(value, what):
    array = _floats(value, what).reshape(-1)
    if array.size != 1 or not np.isfinite(array[0]) or array[0] != int(array[0]) or array[0] < 0:
        raise ModelFormatError(f"{what} must be a whole number")
    return int(array[0])


def _vector(value, what):
    array = _floats(value, what).reshape(-1)
    if array.size == 0:
        raise ModelFormatError(f"{what} is empty")
    return array
