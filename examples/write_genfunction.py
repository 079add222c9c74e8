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
