"""Write a network as a MATLAB function file in the format of MATLAB's ``genFunction``.

The layout is that of the toolbox's newer output (matrix-only form, samples as
columns, settings as struct fields such as ``x1_step1.gain``, module functions
at the end), so the file runs in MATLAB and GNU Octave as
``y1 = name(x1)`` and symnet reads it back with ``symnet.load("name.m")``.
Every number is written as the shortest decimal that reads back to the same
double, so the file holds exactly the network's weights.

Run:  python examples/write_genfunction.py MODEL.json OUT.m
"""

import argparse
import re
from pathlib import Path

import numpy as np

import symnet

STEP_FIELDS = {"mapminmax": ("xoffset", "gain", "ymin"), "mapstd": ("xoffset", "gain", "ymean")}

HELPERS = {
    "mapminmax_apply": """% Map Minimum and Maximum Input Processing Function
function y = mapminmax_apply(x,settings)
y = bsxfun(@minus,x,settings.xoffset);
y = bsxfun(@times,y,settings.gain);
y = bsxfun(@plus,y,settings.ymin);
end""",
    "mapminmax_reverse": """% Map Minimum and Maximum Output Reverse-Processing Function
function x = mapminmax_reverse(y,settings)
x = bsxfun(@minus,y,settings.ymin);
x = bsxfun(@rdivide,x,settings.gain);
x = bsxfun(@plus,x,settings.xoffset);
end""",
    "mapstd_apply": """% Map Mean and Standard Deviation Input Processing Function
function y = mapstd_apply(x,settings)
y = bsxfun(@minus,x,settings.xoffset);
y = bsxfun(@times,y,settings.gain);
y = bsxfun(@plus,y,settings.ymean);
end""",
    "mapstd_reverse": """% Map Mean and Standard Deviation Output Reverse-Processing Function
function x = mapstd_reverse(y,settings)
x = bsxfun(@minus,y,settings.ymean);
x = bsxfun(@rdivide,x,settings.gain);
x = bsxfun(@plus,x,settings.xoffset);
end""",
    "removeconstantrows_apply": """% Remove Constants Input Processing Function
function y = removeconstantrows_apply(x,settings)
y = x(settings.keep,:);
end""",
    "removeconstantrows_reverse": """% Remove Constants Output Reverse-Processing Function
function x = removeconstantrows_reverse(y,settings)
Q = size(y,2);
x = nan(settings.xrows,Q,'like',y);
x(settings.keep,:) = y;
x(settings.remove,:) = repmat(settings.constants,1,Q);
end""",
    "tansig_apply": """% Sigmoid Symmetric Transfer Function
function a = tansig_apply(n,~)
a = 2 ./ (1 + exp(-2*n)) - 1;
end""",
    "logsig_apply": """% Sigmoid Positive Transfer Function
function a = logsig_apply(n,~)
a = 1 ./ (1 + exp(-n));
end""",
    "poslin_apply": """% Positive Linear Transfer Function
function a = poslin_apply(n,~)
a = max(0,n);
a(isnan(n)) = nan;
end""",
    "satlin_apply": """% Saturating Linear Transfer Function
function a = satlin_apply(n,~)
a = max(0,min(1,n));
a(isnan(n)) = nan;
end""",
    "satlins_apply": """% Symmetric Saturating Linear Transfer Function
function a = satlins_apply(n,~)
a = max(-1,min(1,n));
a(isnan(n)) = nan;
end""",
    "radbas_apply": """% Radial Basis Transfer Function
function a = radbas_apply(n,~)
a = exp(-(n.*n));
end""",
    "elliotsig_apply": """% Elliot Symmetric Sigmoid Transfer Function
function a = elliotsig_apply(n,~)
a = n ./ (1 + abs(n));
end""",
    "softmax_apply": """% Competitive Soft Transfer Function
function a = softmax_apply(n,~)
if isa(n,'gpuArray')
    a = iSoftmaxApplyGPU(n);
else
    a = iSoftmaxApplyCPU(n);
end
end
function a = iSoftmaxApplyCPU(n)
nmax = max(n,[],1);
n = bsxfun(@minus,n,nmax);
numerator = exp(n);
denominator = sum(numerator,1);
denominator(denominator == 0) = 1;
a = bsxfun(@rdivide,numerator,denominator);
end
function a = iSoftmaxApplyGPU(n)
nmax = max(n,[],1);
numerator = arrayfun(@iSoftmaxApplyGPUHelper1,n,nmax);
denominator = sum(numerator,1);
a = arrayfun(@iSoftmaxApplyGPUHelper2,numerator,denominator);
end
function numerator = iSoftmaxApplyGPUHelper1(n,nmax)
numerator = exp(n - nmax);
end
function a = iSoftmaxApplyGPUHelper2(numerator,denominator)
if (denominator == 0)
    a = numerator;
else
    a = numerator ./ denominator;
end
end""",
}


def number(value):
    """Shortest decimal that reads back to the same double (whole numbers without '.0')."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def matrix(values):
    """MATLAB literal: a bare scalar, or [a b;c d] (vectors as columns)."""
    array = np.asarray(values, dtype=float)
    if array.size == 1:
        return number(array.reshape(-1)[0])
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    return "[" + ";".join(" ".join(number(v) for v in row) for row in array) + "]"


def genfunction_text(net, function_name):
    """The whole file as text."""
    if net.delays is not None:
        return dynamic_genfunction_text(net, function_name)
    used = []
    inputs = [f"x{i + 1}" for i in range(len(net.inputs))]
    outputs = [f"y{i + 1}" for i in range(len(net.outputs))]
    signature = f"[{','.join(outputs)}] = {function_name}({','.join(inputs)})"
    lines = _help(net, function_name, signature)
    lines += ["", "% ===== NEURAL NETWORK CONSTANTS ====="]
    for i, inp in enumerate(net.inputs, start=1):
        lines += ["", f"% Input {i}"] + _step_constants(f"x{i}", inp.steps, reverse=False)
    for i, layer in enumerate(net.layers, start=1):
        lines += ["", f"% Layer {i}", f"b{i} = {matrix(layer.bias)};"]
        lines += [f"IW{i}_{j + 1} = {matrix(w)};" for j, w in layer.input_weights]
        lines += [f"LW{i}_{j + 1} = {matrix(w)};" for j, w in layer.layer_weights]
    for k, output in enumerate(net.outputs, start=1):
        lines += ["", f"% Output {k}"] + _step_constants(f"y{k}", output.steps, reverse=True)
    lines += ["", "% ===== SIMULATION ========", "", "% Dimensions", "Q = size(x1,2); % samples"]
    for i, inp in enumerate(net.inputs, start=1):
        lines += ["", f"% Input {i}"] + _input_lines(i, inp.steps, used)
    for i, layer in enumerate(net.layers, start=1):
        lines += ["", f"% Layer {i}", _layer_line(i, layer, used)]
    for k, output in enumerate(net.outputs, start=1):
        lines += ["", f"% Output {k}"] + _output_lines(k, output, used)
    lines += ["end", "", "% ===== MODULE FUNCTIONS ========"]
    for helper in dict.fromkeys(used):
        lines += [""] + HELPERS[helper].splitlines()
    return "\n".join(lines) + "\n"


def _help(net, function_name, signature):
    upper = function_name.upper()
    lines = [f"function {signature}", f"%{upper} neural network simulation function.", "%",
             "% Written by symnet's examples/write_genfunction.py in the format of MATLAB's genFunction.",
             "%", f"% {signature} takes these arguments:"]
    lines += [f"%   x{i} = {inp.size}xQ matrix, input #{i}" for i, inp in enumerate(net.inputs, start=1)]
    lines += ["% and returns:"]
    lines += [f"%   y{k} = {net.output_size(out)}xQ matrix, output #{k}"
              for k, out in enumerate(net.outputs, start=1)]
    return lines + ["% where Q is the number of samples.", "", "%#ok<*RPMT0>"]


def _step_constants(prefix, steps, reverse):
    lines = []
    for number_, step in enumerate(steps, start=1):
        name = f"{prefix}_step{number_}"
        if step.kind in STEP_FIELDS:
            lines += [f"{name}.{field} = {matrix(_setting(step, field))};" for field in STEP_FIELDS[step.kind]]
        elif step.kind == "removeconstantrows":
            keep = [k + 1 for k in step.keep]
            lines.append(f"{name}.keep = {matrix(np.array([keep]))};")
            if reverse:
                remove = [k + 1 for k in step.removed]
                lines = lines[:-1] + [f"{name}.xrows = {step.n_rows};", lines[-1],
                                      f"{name}.remove = {matrix(np.array([remove]))};",
                                      f"{name}.constants = {matrix(np.array(step.constants))};"]
        else:
            raise ValueError(f"genFunction files have no {step.kind!r} processing")
    return lines


def _setting(step, field):
    """A setting's values; ymin and ymean as one scalar when equal, as genFunction writes them."""
    values = getattr(step, field)
    if field in ("ymin", "ymean") and np.all(values == values[0]):
        return values[0]
    return values


def _input_lines(i, steps, used):
    lines, source = [], f"x{i}"
    for number_, step in enumerate(steps, start=1):
        used.append(f"{step.kind}_apply")
        lines.append(f"xp{i} = {step.kind}_apply({source},x{i}_step{number_});")
        source = f"xp{i}"
    if not steps:
        lines.append(f"xp{i} = x{i};")
    return lines


def _layer_line(i, layer, used):
    terms = [f"repmat(b{i},1,Q)"]
    terms += [f"IW{i}_{j + 1}*xp{j + 1}" for j, _ in layer.input_weights]
    terms += [f"LW{i}_{j + 1}*a{j + 1}" for j, _ in layer.layer_weights]
    total = " + ".join(terms)
    if layer.transfer == "purelin":
        return f"a{i} = {total};"
    helper = f"{layer.transfer}_apply"
    if helper not in HELPERS or layer.transfer_params:
        raise ValueError(f"genFunction files have no transfer function {layer.transfer!r}")
    used.append(helper)
    return f"a{i} = {helper}({total});"


def _output_lines(k, output, used):
    source, lines = f"a{output.layer + 1}", []
    for number_, step in reversed(list(enumerate(output.steps, start=1))):
        target = f"y{k}" if number_ == 1 else "temp"
        used.append(f"{step.kind}_reverse")
        lines.append(f"{target} = {step.kind}_reverse({source},y{k}_step{number_});")
        source = target
    return lines or [f"y{k} = {source};"]


# --- dynamic networks: the cell form [Y,Xf,Af] = f(X,Xi,Ai) with rotating delay buffers ----------

def dynamic_genfunction_text(net, function_name):
    """A dynamic network given by its one-step map (``net.delays``) as MATLAB's genFunction writes
    timedelaynet, narxnet and layrecnet: delay buffers Xd/Ad indexed modulo their length."""
    layout, used = net.delays, []
    D, L = layout.input_delays, layout.layer_delays
    fed_back = {taps.layer: taps for taps in layout.layers}
    signature = f"[Y,Xf,Af] = {function_name}(X,{'Xi' if D else '~'},{'Ai' if L else '~'})"
    lines = [f"function {signature}", f"%{function_name.upper()} neural network simulation function.", "%",
             "% Written by symnet's examples/write_genfunction.py in the format of MATLAB's genFunction.", "%",
             f"% {signature} takes these arguments:", "%",
             f"%   X = {len(layout.inputs)}xTS cell, {len(layout.inputs)} inputs over TS timesteps"]
    lines += [f"%   Each X{{{k},ts}} = {net.inputs[t.current].size}xQ matrix, input #{k} at timestep ts."
              for k, t in enumerate(layout.inputs, start=1)]
    lines += ["%", f"%   Xi = {len(layout.inputs)}x{D} cell {len(layout.inputs)}, initial {D} input delay states.",
              "%", f"%   Ai = {len(net.layers)}x{L} cell {len(net.layers)}, initial {L} layer delay states.",
              "%", "% and returns:", f"%   Y = {len(layout.outputs)}xTS cell of {len(layout.outputs)} outputs"
              " over TS timesteps.", "%", "%   Xf and Af: final input and layer delay states.", "%",
              "% where Q is number of samples (or series) and TS is the number of timesteps.", "", "%#ok<*RPMT0>",
              "", "% ===== NEURAL NETWORK CONSTANTS ====="]
    for k, taps in enumerate(layout.inputs, start=1):
        lines += ["", f"% Input {k}"] + _step_constants(f"x{k}", net.inputs[taps.current].steps, reverse=False)
    connections = [_dynamic_connections(net, i) for i in range(len(net.layers))]
    for i, (layer, terms) in enumerate(zip(net.layers, connections), start=1):
        lines += ["", f"% Layer {i}", f"b{i} = {matrix(layer.bias)};"]
        lines += [f"{name} = {matrix(weights)};" for name, weights, _ in terms]
    for k, o in enumerate(layout.outputs, start=1):
        lines += ["", f"% Output {k}"] + _step_constants(f"y{k}", net.outputs[o].steps, reverse=True)
    lines += ["", "% ===== SIMULATION ========", "", "% Format Input Arguments", "isCellX = iscell(X);",
              "if ~isCellX", "    X = {X};", "end"]
    lines += ["if (nargin < 2), error('Initial input states Xi argument needed.'); end"] if D else []
    lines += ["if (nargin < 3), error('Initial layer states Ai argument needed.'); end"] if L else []
    lines += ["", "% Dimensions", "TS = size(X,2); % timesteps", "if ~isempty(X)",
              "    Q = size(X{1},2); % samples/series"]
    lines += ["elseif ~isempty(Xi)", "    Q = size(Xi{1},2);"] if D else []
    lines += ["elseif ~isempty(Ai)", "    Q = size(Ai{%d},2);" % (layout.layers[0].layer + 1)] if L else []
    lines += ["else", "    Q = 0;", "end"]
    for k, taps in enumerate(layout.inputs, start=1):
        if D:
            lines += ["", f"% Input {k} Delay States", f"Xd{k} = cell(1,{D + 1});", f"for ts=1:{D}",
                      f"    Xd{k}{{ts}} = " + _applied(f"Xi{{{k},ts}}", k, net.inputs[taps.current].steps, used) + ";",
                      "end"]
    if L:
        lines += ["", "% Layer Delay States"]
        for j in sorted(fed_back):
            lines += [f"Ad{j + 1} = cell(1,{L + 1});", f"for ts=1:{L}",
                      f"    Ad{j + 1}{{ts}} = Ai{{{j + 1},ts}};", "end"]
    lines += ["", "% Allocate Outputs", f"Y = cell({len(layout.outputs)},TS);", "", "% Time loop", "for ts=1:TS"]
    if D or L:
        lines += ["", "    % Rotating delay state position"]
        lines += [f"    xdts = mod(ts+{D - 1},{D + 1})+1;"] if D else []
        lines += [f"    adts = mod(ts+{L - 1},{L + 1})+1;"] if L else []
    for k, taps in enumerate(layout.inputs, start=1):
        target = f"Xd{k}{{xdts}}" if D else f"Xp{k}"
        lines += ["", f"    % Input {k}", f"    {target} = " +
                  _applied(f"X{{{k},ts}}", k, net.inputs[taps.current].steps, used) + ";"]
    tap = 0
    for i, (layer, terms) in enumerate(zip(net.layers, connections), start=1):
        lines += ["", f"    % Layer {i}"]
        products = [f"repmat(b{i},1,Q)"]
        for name, _, source in terms:
            if source[0] == "taps":
                tap += 1
                _, buffer, delays = source
                length, slot = (D + 1, "xdts") if buffer.startswith("X") else (L + 1, "adts")
                lines.append(f"    tapdelay{tap} = cat(1,{buffer}{{mod({slot}-{matrix(np.array([delays]))}-1,"
                             f"{length})+1}});")
                products.append(f"{name}*tapdelay{tap}")
            else:
                products.append(f"{name}*" + (f"Xp{source[1]}" if source[0] == "input" else
                                              _layer_name(source[1], fed_back)))
        total = " + ".join(products)
        if layer.transfer != "purelin":
            if f"{layer.transfer}_apply" not in HELPERS or layer.transfer_params:
                raise ValueError(f"genFunction files have no transfer function {layer.transfer!r}")
            used.append(f"{layer.transfer}_apply")
            total = f"{layer.transfer}_apply({total})"
        lines.append(f"    {_layer_name(i - 1, fed_back)} = {total};")
    for k, o in enumerate(layout.outputs, start=1):
        output = net.outputs[o]
        written = [re.sub(rf"\ba{output.layer + 1}\b", _layer_name(output.layer, fed_back).replace("\\", ""), line)
                   for line in _output_lines(k, output, used)]
        written[-1] = written[-1].replace(f"y{k} = ", f"Y{{{k},ts}} = ", 1)
        lines += ["", f"    % Output {k}"] + ["    " + line for line in written]
    lines += ["end", "", "% Final Delay States"]
    if D:
        lines += [f"finalxts = TS+(1: {D});", f"xits = finalxts(finalxts<={D});", f"xts = finalxts(finalxts>{D})-{D};",
                  "Xf = [Xi(:,xits) X(:,xts)];"]
    else:
        lines.append(f"Xf = cell({len(layout.inputs)},0);")
    if L:
        lines += [f"finalats = TS+(1: {L});", f"ats = mod(finalats-1,{L + 1})+1;", f"Af = cell({len(net.layers)},{L});"]
        lines += [f"Af({j + 1},:) = Ad{j + 1}(:,ats);" for j in sorted(fed_back)]
    else:
        lines.append(f"Af = cell({len(net.layers)},0);")
    lines += ["", "% Format Output Arguments", "if ~isCellX", "    Y = cell2mat(Y);", "end", "end", "",
              "% ===== MODULE FUNCTIONS ========"]
    for helper in dict.fromkeys(used):
        lines += [""] + HELPERS[helper].splitlines()
    return "\n".join(lines) + "\n"


def dynamic_matrix_text(net, function_name):
    """The same network in genFunction's matrix-only form ('MatrixOnly','yes'): one series
    (Q = 1), time along the columns, ``[y1,...,xf1,...,af2] = f(x1,...,xi1,...,ai2)``."""
    layout, used = net.delays, []
    D, L = layout.input_delays, layout.layer_delays
    fed_back = {taps.layer: taps for taps in layout.layers}
    n_inputs = len(layout.inputs)
    params = [f"x{k}" for k in range(1, n_inputs + 1)] + [f"xi{k}" for k in range(1, n_inputs + 1) if D]
    params += [f"ai{j + 1}" for j in sorted(fed_back)]
    results = [f"y{k}" for k in range(1, len(layout.outputs) + 1)] + [f"xf{k}" for k in range(1, n_inputs + 1) if D]
    results += [f"af{j + 1}" for j in sorted(fed_back)]
    signature = f"[{','.join(results)}] = {function_name}({','.join(params)})"
    lines = [f"function {signature}", f"%{function_name.upper()} neural network simulation function.", "%",
             "% Written by symnet's examples/write_genfunction.py in the format of MATLAB's genFunction.", "%",
             f"% {signature} takes these arguments:"]
    lines += [f"%   x{k} = {net.inputs[t.current].size}xTS matrix, input #{k}" for k, t in enumerate(layout.inputs, 1)]
    lines += [f"%   xi{k} = {net.inputs[t.current].size}x{D} matrix, initial {D} delay states for input #{k}."
              for k, t in enumerate(layout.inputs, 1) if D]
    lines += [f"%   ai{j + 1} = {net.layers[j].size}x{L} matrix, initial {L} delay states for layer #{j + 1}."
              for j in sorted(fed_back)]
    lines += ["% where TS is the number of timesteps.", "", "% ===== NEURAL NETWORK CONSTANTS ====="]
    for k, taps in enumerate(layout.inputs, start=1):
        lines += ["", f"% Input {k}"] + _step_constants(f"x{k}", net.inputs[taps.current].steps, reverse=False)
    connections = [_dynamic_connections(net, i) for i in range(len(net.layers))]
    for i, (layer, terms) in enumerate(zip(net.layers, connections), start=1):
        lines += ["", f"% Layer {i}", f"b{i} = {matrix(layer.bias)};"]
        lines += [f"{name} = {matrix(weights)};" for name, weights, _ in terms]
    for k, o in enumerate(layout.outputs, start=1):
        lines += ["", f"% Output {k}"] + _step_constants(f"y{k}", net.outputs[o].steps, reverse=True)
    lines += ["", "% ===== SIMULATION ========", "", "% Dimensions", "TS = size(x1,2); % timesteps"]
    for k, taps in enumerate(layout.inputs, start=1):
        if D:
            lines += ["", f"% Input {k} Delay States",
                      f"xd{k} = " + _applied(f"xi{k}", k, net.inputs[taps.current].steps, used) + ";",
                      f"xd{k} = [xd{k} zeros({_processed(net.inputs[taps.current])},1)];"]
    if L:
        lines += ["", "% Layer Delay States"]
        lines += [f"ad{j + 1} = [ai{j + 1} zeros({net.layers[j].size},1)];" for j in sorted(fed_back)]
    lines += ["", "% Allocate Outputs"]
    lines += [f"y{k} = zeros({net.output_size(net.outputs[o])},TS);" for k, o in enumerate(layout.outputs, 1)]
    lines += ["", "% Time loop", "for ts=1:TS"]
    if D or L:
        lines += ["", "    % Rotating delay state position"]
        lines += [f"    xdts = mod(ts+{D - 1},{D + 1})+1;"] if D else []
        lines += [f"    adts = mod(ts+{L - 1},{L + 1})+1;"] if L else []
    for k, taps in enumerate(layout.inputs, start=1):
        target = f"xd{k}(:,xdts)" if D else f"xp{k}"
        lines += ["", f"    % Input {k}", f"    {target} = " +
                  _applied(f"x{k}(:,ts)", k, net.inputs[taps.current].steps, used) + ";"]
    tap = 0
    name_of = lambda j: f"ad{j + 1}(:,adts)" if j in fed_back else f"a{j + 1}"
    for i, (layer, terms) in enumerate(zip(net.layers, connections), start=1):
        lines += ["", f"    % Layer {i}"]
        products = [f"b{i}"]
        for name, weights, source in terms:
            if source[0] == "taps":
                tap += 1
                _, buffer, delays = source
                length, slot = (D + 1, "xdts") if buffer.startswith("X") else (L + 1, "adts")
                lines.append(f"    tapdelay{tap} = reshape({buffer.lower()}(:,mod({slot}-"
                             f"{matrix(np.array([delays]))}-1,{length})+1),{weights.shape[1]},1);")
                products.append(f"{name}*tapdelay{tap}")
            else:
                products.append(f"{name}*" + (f"xp{source[1]}" if source[0] == "input" else name_of(source[1])))
        total = " + ".join(products)
        if layer.transfer != "purelin":
            used.append(f"{layer.transfer}_apply")
            total = f"{layer.transfer}_apply({total})"
        lines.append(f"    {name_of(i - 1)} = {total};")
    for k, o in enumerate(layout.outputs, start=1):
        output = net.outputs[o]
        written = [re.sub(rf"\ba{output.layer + 1}\b", name_of(output.layer), line)
                   for line in _output_lines(k, output, used)]
        written[-1] = written[-1].replace(f"y{k} = ", f"y{k}(:,ts) = ", 1)
        lines += ["", f"    % Output {k}"] + ["    " + line for line in written]
    lines += ["end", "", "% Final Delay States"]
    if D:
        lines += [f"finalxts = TS+(1: {D});", f"xits = finalxts(finalxts<={D});", f"xts = finalxts(finalxts>{D})-{D};"]
        lines += [f"xf{k} = [xi{k}(:,xits) x{k}(:,xts)];" for k in range(1, n_inputs + 1)]
    if L:
        lines += [f"finalats = TS+(1: {L});", f"ats = mod(finalats-1,{L + 1})+1;"]
        lines += [f"af{j + 1} = ad{j + 1}(:,ats);" for j in sorted(fed_back)]
    lines += ["end", "", "% ===== MODULE FUNCTIONS ========"]
    for helper in dict.fromkeys(used):
        lines += [""] + HELPERS[helper].splitlines()
    return "\n".join(lines) + "\n"


def _processed(inp):
    return inp.steps[-1].out_size if inp.steps else inp.size


def _applied(source, k, steps, used):
    """The processing of input ``k`` applied to ``source``, nested as one expression."""
    for number_, step in enumerate(steps, start=1):
        used.append(f"{step.kind}_apply")
        source = f"{step.kind}_apply({source},x{k}_step{number_})"
    return source


def _layer_name(layer, fed_back):
    return f"Ad{layer + 1}{{adts}}" if layer in fed_back else f"a{layer + 1}"


def _dynamic_connections(net, index):
    """[(weight name, weights, source)] of layer ``index``: a source is ("input", k) (1-based),
    ("layer", j) (0-based) or ("taps", delay buffer, delays) for a tap delay line whose weights
    are the taps' side by side."""
    layout, layer = net.delays, net.layers[index]
    fed_back = {taps.layer: taps for taps in layout.layers}
    by_input = dict(layer.input_weights)
    terms = []
    for k, taps in enumerate(layout.inputs, start=1):
        tapped = [(d, by_input[i]) for d, i in enumerate((taps.current,) + taps.delayed) if i in by_input]
        if tapped and layout.input_delays:
            terms.append((f"IW{index + 1}_{k}", np.hstack([w for _, w in tapped]),
                          ("taps", f"Xd{k}", [d for d, _ in tapped])))
        elif tapped:
            terms.append((f"IW{index + 1}_{k}", tapped[0][1], ("input", k)))
    undelayed = dict(layer.layer_weights)
    for j, taps in sorted(fed_back.items()):
        tapped = [(d, by_input[i]) for d, i in enumerate(taps.delayed, start=1) if i in by_input]
        if tapped and j in undelayed:       # delays 0, 1, ... of one layer weight (distdelaynet)
            tapped.insert(0, (0, undelayed.pop(j)))
        if tapped:
            terms.append((f"LW{index + 1}_{j + 1}", np.hstack([w for _, w in tapped]),
                          ("taps", f"Ad{j + 1}", [d for d, _ in tapped])))
    for source, weights in undelayed.items():
        terms.append((f"LW{index + 1}_{source + 1}", weights, ("layer", source)))
    return terms


def write_genfunction(net, path):
    """Write ``net`` to ``path``; the function is named after the file, as MATLAB expects."""
    path = Path(path)
    path.write_text(genfunction_text(net, path.stem), encoding="utf-8")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model symnet reads, e.g. examples/pxyz.json")
    parser.add_argument("out", help="the .m file to write")
    args = parser.parse_args()
    print(f"wrote {write_genfunction(symnet.load(args.model), args.out)}")
