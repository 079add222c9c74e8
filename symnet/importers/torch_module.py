"""PyTorch importer (extra ``symnet[torch]``): ``torch.nn.Module`` objects, and
``torch.save``d state dicts given with the module they belong to.

The module is read through ``torch.fx`` symbolic tracing, so that a forward
written by hand (normalization constants, residual additions, functional
activations, several arguments and results) is seen as the graph it is, not
guessed from the list of submodules.  Each traced node goes to the dataflow
builder.  Operations that only move features around (``cat``, ``stack``,
slicing, ``split``, ``view``) are run by torch itself on a tensor of feature
numbers, and the numbers that come out say which features they pick; dtype
and device conversions are identities.  A module or function without an
exact counterpart is refused with its node and the line of the forward.
"""

import operator
import traceback
from pathlib import Path

import numpy as np
import sympy as sp

from . import torch_trace
from ..errors import MissingExtraError, ModelFormatError, SymnetError, UnsupportedError
from ..ir import transfer as transfer_registry
from .dataflow import NetworkBuilder
from .feature_picking import Numbering
from .torch_activations import (ARITHMETIC, IDENTITY_FUNCTIONS, INDEX_FUNCTIONS, INDEX_METHODS, MATRIX_PRODUCTS,
                                SOFTMAX, function_transfer, method_function, module_transfer)

_STATE_DICT_HELP = ("save model.state_dict() with torch.save and load it with"
                    " symnet.load(path, module=YourModule()), or on the command line with --module package.module:Class")


def _torch():
    try:
        import torch
        import torch.fx  # noqa: F401
    except ImportError:
        raise MissingExtraError("reading PyTorch models needs torch: pip install symnet[torch]") from None
    return torch


def load_torch_file(path, module=None, trust_pickle=False, input_size=None, input_sizes=None):
    """A Network from a ``torch.save``d file: a state dict loaded into ``module``,
    or (only with ``trust_pickle``) a whole pickled module.  ``input_sizes`` ({argument: features},
    the command line's ``--input-size``) or ``input_size`` as in ``load_module``."""
    input_size = input_sizes if input_sizes else input_size
    torch = _torch()
    if module is not None and not isinstance(module, torch.nn.Module):
        raise UnsupportedError(f"module= takes the torch.nn.Module the state dict belongs to (module=YourModule()),"
                               f" not a {type(module).__name__}; on the command line: --module package.module:Class")
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=not trust_pickle)
    except Exception as error:  # torch raises pickle, zip and runtime errors alike
        if not trust_pickle and "weights_only" in str(error):
            raise UnsupportedError(
                "the file holds more than tensors (a pickled module?): unpickling it runs code from the file."
                f" Pass --trust-pickle (trust_pickle=True) only for files you trust, or {_STATE_DICT_HELP}") from None
        raise ModelFormatError(f"cannot read with torch.load: {type(error).__name__}: {error}") from None
    if isinstance(data, torch.nn.Module):
        return load_module(data, input_size=input_size)
    if module is None:
        raise UnsupportedError(f"the file holds a state dict, which needs its module: {_STATE_DICT_HELP}")
    if not isinstance(data, dict):
        raise ModelFormatError(f"expected a state dict, found a {type(data).__name__}")
    try:
        module.load_state_dict(data)
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as error:   # torch's refusals
        problem = " ".join(str(error).split())
        raise ModelFormatError(f"the state dict does not fit {type(module).__name__}: {problem}") from None
    return load_module(module, name=Path(path).stem, input_size=input_size)


def load_module(module, name=None, input_size=None):
    """A Network from a ``torch.nn.Module`` whose forward is a feed-forward network.

    Args:
        module: the module; its tensor arguments become the inputs, in order and by name.
        name: the network's name (default: the module's class name).
        input_size: features of each tensor argument (one number for all, one each, or a dict by name);
            needed only where the forward accepts several sizes, since symnet otherwise
            finds the smallest it accepts by running it on a small batch.

    Returns:
        The Network, one output per tensor the forward returns.
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise UnsupportedError(f"expected a torch.nn.Module, got {type(module).__name__}")
    label = type(module).__name__
    try:
        graph_module = torch_trace.trace(torch, module)
    except Exception as error:  # tracing fails on data-dependent control flow and more
        problem = " ".join(str(error).split())[:300]
        raise UnsupportedError(f"cannot trace {label} with torch.fx{_failing_line(error)}: {problem}") from None
    sizes = torch_trace.input_sizes(torch, graph_module, input_size, label)
    concrete = torch_trace.probe(torch, graph_module, sizes) if sizes else None
    if concrete is None:
        # The forward fails when run (or takes more features than were tried): read what
        # the graph itself tells, so that an unsupported module is named all the same.
        count = sum(1 for node in graph_module.graph.nodes if node.op == "placeholder")
        return _Reader(torch, module, graph_module, name or label, sizes or (None,) * count, {}).read()
    return _Reader(torch, module, graph_module, name or label, sizes, concrete).read()


def _failing_line(error):
    """`` at file.py:line`` of the user's code where ``error`` was raised, or nothing."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if "/torch/" not in f.filename.replace("\\", "/") and not f.filename.endswith("torch_trace.py")]
    return f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""


class _Reader:
    def __init__(self, torch, module, graph_module, name, sizes, concrete):
        self.torch = torch
        self.module = module
        self.graph_module = graph_module
        self.modules = dict(graph_module.named_modules())
        self.builder = NetworkBuilder(name)
        self.sizes = iter(sizes)
        self.concrete = concrete
        self.values = {}
        self.data = set()   # nodes whose value depends on the forward's tensor arguments

    def read(self):
        for node in self.graph_module.graph.nodes:
            try:
                self.values[node] = self._node(node)
            except SymnetError as error:
                raise _located(error, node, torch_trace.source_line(node, self.module)) from None
        return self.builder.network()

    def _node(self, node):
        if node.op == "placeholder":
            self.data.add(node)
            return self.builder.add_input(str(node.target).lstrip("*"), next(self.sizes))
        if node.op == "output":
            return self._output(node, "the result")
        if node.op == "get_attr":
            return _array(self._attribute(node.target))
        depends = any(source in self.data for source in node.all_input_nodes)
        if node in self.concrete and not (depends and _holds_tensor(self.torch, self.concrete[node])):
            return _constant(self.torch, self.concrete[node])   # from buffers, or a number such as x.size(0)
        if depends:
            self.data.add(node)
        if node.op == "call_module":
            module = self.modules[node.target]
            return self._call_module(node, module, f"module {node.target!r} ({type(module).__name__})")
        if node.op == "call_method":
            where = f"node {node.name!r} (Tensor.{node.target})"
            if node.target in torch_trace.CONVERSIONS:
                return self.arg(node.args[0], where)
            if node.target in INDEX_METHODS:
                return self._index_op(node, where, lambda args, kwargs: getattr(args[0], node.target)(
                    *args[1:], **kwargs))
            return self._call(method_function(self.torch, node.target), node, where)
        where = f"node {node.name!r} ({getattr(node.target, '__name__', node.target)})"
        return self._call(node.target, node, where)

    def _attribute(self, target):
        value = self.graph_module
        for part in target.split("."):
            value = getattr(value, part)
        return value

    def arg(self, value, where):
        """A traced argument: a builder value, or a constant as a float array."""
        if isinstance(value, self.torch.fx.Node):
            value = self.values[value]
        if isinstance(value, self.torch.Tensor):
            return _array(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return np.array(float(value))
        if not (isinstance(value, np.ndarray) or _is_value(value)):
            raise UnsupportedError(f"{where}: an argument of type {type(value).__name__} is not supported here")
        return value

    def _call_module(self, node, module, where):
        nn = self.torch.nn
        if isinstance(module, (nn.Flatten, nn.Unflatten)):
            return self._index_op(node, where, lambda args, kwargs: module(*args, **kwargs))
        data = self.arg(node.args[0], where)
        if isinstance(module, nn.Linear):
            bias = _array(module.bias) if module.bias is not None else np.zeros(module.out_features)
            return self.builder.linear(data, _array(module.weight), bias, where, name=node.target)
        if isinstance(module, nn.Softmax):
            _require_last_dim(module.dim, where)
            return self.builder.softmax(data, where, name=node.target)
        if isinstance(module, (nn.Identity, nn.Dropout, nn.AlphaDropout)):
            return data
        if isinstance(module, nn.BatchNorm1d):
            return self._batch_norm(module, data, where)
        if isinstance(module, nn.LayerNorm):
            weight, bias = (None if t is None else _array(t) for t in (module.weight, module.bias))
            return self._layer_norm(data, module.normalized_shape, weight, bias, module.eps, where, node.target)
        if isinstance(module, nn.RMSNorm):
            return self._rms_norm(data, module, where, node.target)
        if isinstance(module, nn.GroupNorm):
            raise UnsupportedError(f"{where}: GroupNorm is not supported yet (it divides by statistics of"
                                   " groups of each sample's features)")
        transfer = module_transfer(nn, module)
        if transfer is None:
            raise UnsupportedError(f"{where}: this module is not supported; symnet imports feed-forward networks"
                                   " (Linear, element-wise activations, BatchNorm1d in eval mode, cat and slicing)")
        return self._activation(data, transfer, where)

    def _batch_norm(self, module, value, where):
        """Eval-mode batch normalization: a per-feature affine map that folds into the next layer."""
        if module.training:
            raise UnsupportedError(f"{where}: in training mode it normalizes by each batch's statistics;"
                                   " call model.eval() before importing")
        if module.running_mean is None:
            raise UnsupportedError(f"{where}: without running statistics (track_running_stats=False) it"
                                   " normalizes by each batch's statistics, which is not a function of one sample")
        scale = 1.0 / np.sqrt(_array(module.running_var) + module.eps)
        if module.weight is not None:
            scale = scale * _array(module.weight)
        shift = -_array(module.running_mean) * scale
        if module.bias is not None:
            shift = shift + _array(module.bias)
        return self.builder.constant_op(self.builder.constant_op(value, "mul", scale, where), "add", shift, where)

    def _rms_norm(self, value, module, where, name):
        if module.eps is None:
            raise UnsupportedError(f"{where}: RMSNorm without eps uses the machine epsilon of the input's"
                                   " dtype; give eps explicitly")
        weight = None if module.weight is None else _array(module.weight)
        return self._layer_norm(value, module.normalized_shape, weight, None, module.eps, where, name, center=False)

    def _layer_norm(self, value, shape, weight, bias, eps, where, name, center=True):
        """LayerNorm over the last dimension only (the features of (batch, features))."""
        shape = tuple(shape) if isinstance(shape, (tuple, list, self.torch.Size)) else (shape,)
        if len(shape) != 1 or (value.size is not None and shape[0] != value.size):
            raise UnsupportedError(f"{where}: layer normalization over the shape {shape} is not over the"
                                   f" features of (batch, features)")
        return self.builder.layer_norm(value, weight, bias, float(eps), where, name=name, center=center)

    def _call(self, target, node, where):
        args, kwargs = node.args, node.kwargs
        if target is operator.getitem and isinstance(self.values.get(args[0]), tuple):
            return self.values[args[0]][args[1]]     # one result of split, chunk or unbind
        if target in INDEX_FUNCTIONS:
            return self._index_op(node, where, lambda args, kwargs: target(*args, **kwargs))
        if target in IDENTITY_FUNCTIONS:
            return self.arg(args[0], where)
        op = ARITHMETIC.get(target)
        if op is not None:
            if kwargs.get("alpha", 1) != 1:
                raise UnsupportedError(f"{where}: add/sub with alpha is not supported")
            return self._arithmetic(op, self.arg(args[0], where), self.arg(args[1], where), where)
        if target in SOFTMAX:
            dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
            _require_last_dim(dim, where)
            return self.builder.softmax(self.arg(args[0], where), where, name=node.name)
        if target is self.torch.nn.functional.layer_norm:
            return self._functional_layer_norm(node, where)
        if target is operator.neg or target in (self.torch.neg, self.torch.negative):
            return self.builder.constant_op(self.arg(args[0], where), "rsub", np.array(0.0), where)
        if target in MATRIX_PRODUCTS or target is self.torch.nn.functional.linear:
            return self._matrix_product(target, node, where)
        if target in (operator.pow, self.torch.pow):
            return self._power(self.arg(args[0], where), self.arg(args[1], where), where)
        if target in (self.torch.exp, self.torch.log):
            function = sp.exp if target is self.torch.exp else sp.log
            return self.builder.unary(self._data(args[0], where), function, where)
        transfer = None if target is None else function_transfer(self.torch, target, args, kwargs)
        if transfer is None:
            raise UnsupportedError(f"{where}: this operation is not supported; symnet imports feed-forward"
                                   " networks (Linear, element-wise activations, arithmetic with constants,"
                                   " cat and slicing)")
        return self._activation(self._data(args[0], where), transfer, where)

    def _functional_layer_norm(self, node, where):
        names = ("input", "normalized_shape", "weight", "bias", "eps")
        given = dict(zip(names, node.args), **node.kwargs)
        constants = {key: self.arg(given[key], where) if given.get(key) is not None else None
                     for key in ("weight", "bias")}
        if any(c is not None and not isinstance(c, np.ndarray) for c in constants.values()):
            raise UnsupportedError(f"{where}: layer_norm with a computed weight or bias is not supported")
        return self._layer_norm(self._data(given["input"], where), given["normalized_shape"], constants["weight"],
                                constants["bias"], given.get("eps", 1e-5), where, node.name)

    def _data(self, arg, where):
        value = self.arg(arg, where)
        if isinstance(value, np.ndarray):
            raise UnsupportedError(f"{where}: an activation of a constant is not supported")
        return value

    def _arithmetic(self, op, left, right, where):
        if isinstance(left, np.ndarray) and isinstance(right, np.ndarray):
            return {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op](left, right)
        if isinstance(right, np.ndarray):
            return self.builder.constant_op(left, op, right, where)
        if isinstance(left, np.ndarray):
            if op == "sub":
                return self.builder.constant_op(right, "rsub", left, where)
            if op == "div":
                return self.builder.unary(right, lambda e: float(_single(left, where)) / e, where)
            return self.builder.constant_op(right, op, left, where)
        return self.builder.binary(left, op, right, where)

    def _matrix_product(self, target, node, where):
        """x @ W (matmul, mm) or F.linear(x, W, b), with W and b constants: a layer's affine map."""
        data = self._data(node.args[0], where)
        operands = [self.arg(a, where) for a in node.args[1:]] + [self.arg(a, where) for a in node.kwargs.values()]
        if not all(isinstance(operand, np.ndarray) for operand in operands) or operands[0].ndim != 2:
            raise UnsupportedError(f"{where}: only products of the data with a constant matrix are supported")
        weights = operands[0] if target is self.torch.nn.functional.linear else operands[0].T
        bias = operands[1] if len(operands) > 1 else np.zeros(weights.shape[0])
        return self.builder.linear(data, weights, bias, where, name=node.name)

    def _power(self, base, exponent, where):
        if isinstance(base, np.ndarray) or not isinstance(exponent, np.ndarray):
            raise UnsupportedError(f"{where}: only a power of the data with a constant exponent is supported")
        power = float(_single(exponent, where))
        power = sp.Integer(int(power)) if power.is_integer() else sp.Float(power)
        return self.builder.unary(base, lambda e: e ** power, where)

    def _activation(self, value, transfer, where):
        name, params = transfer
        entry = transfer_registry.lookup(name)
        params = transfer_registry.normalize_parameters(name, params)
        return self.builder.unary(value, lambda e: entry.reference_expression(e, params), where,
                                  (entry.name, params))

    # --- operations that only move features: run by torch on feature numbers --------------

    def _index_op(self, node, where, call):
        """Run ``call`` with tensors of feature numbers in place of the data (``feature_picking``)."""
        if node not in self.concrete:
            raise UnsupportedError(f"{where}: cannot tell the shapes it acts on, since the forward fails when run"
                                   f" on a small batch ({_SIZE_HELP})")
        numbering = Numbering(self.builder, where)
        torch = self.torch

        def numbered(value, tensor):
            if isinstance(value, tuple):
                return type(tensor)(numbered(v, t) for v, t in zip(value, tensor))
            return torch.from_numpy(numbering.numbered(value, tensor.shape))

        def converted(arg):
            if isinstance(arg, torch.fx.Node):
                if arg not in self.data:
                    constant = self.concrete.get(arg)
                    if isinstance(constant, torch.Tensor) and constant.is_floating_point():
                        raise UnsupportedError(f"{where}: joins the data with a constant tensor, which is not"
                                               " supported")
                    return constant
                return numbered(self.values[arg], self.concrete[arg])
            if isinstance(arg, (list, tuple)):
                return type(arg)(converted(a) for a in arg)
            if isinstance(arg, dict):
                return {key: converted(a) for key, a in arg.items()}
            return arg

        def decoded(result):
            if isinstance(result, (tuple, list)):
                return tuple(decoded(part) for part in result)
            if not isinstance(result, torch.Tensor):
                raise UnsupportedError(f"{where}: gives a {type(result).__name__}, not a tensor")
            return numbering.decoded(result.numpy(), torch_trace.PROBE_BATCH)
        return decoded(call(converted(node.args), converted(dict(node.kwargs))))

    def _output(self, node, where):
        named = []
        for name, result in _named_results(node.args[0]):
            value = self.values.get(result) if isinstance(result, self.torch.fx.Node) else result
            if isinstance(value, tuple):
                named += [(f"{name}_{k}", part) for k, part in enumerate(value, start=1)]
            else:
                named.append((name, value))
        for name, value in named:
            if not _is_value(value):
                raise UnsupportedError(f"{where}: result {name!r} does not depend on the inputs")
            self.builder.output(value, name, f"{where}: result {name!r}")


def _named_results(results):
    if isinstance(results, dict):
        return [(str(key), value) for key, value in results.items()]
    if isinstance(results, (tuple, list)):
        if len(results) == 1:
            return [("y", results[0])]
        return [(f"y{number}", value) for number, value in enumerate(results, start=1)]
    return [("y", results)]


def _located(error, node, line):
    """``error`` ending with the node (unless it names it) and the line of the forward that made it."""
    named = any(repr(str(name)) in error.problem for name in (node.name, node.target))
    parts = ([] if named else [f"node {node.name!r}"]) + ([f"at {line}"] if line else [])
    if not parts:
        return error
    located = type(error).__new__(type(error))
    SymnetError.__init__(located, f"{error.problem} ({' '.join(parts)})", error.source)
    return located


def _holds_tensor(torch, value):
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (tuple, list)) and any(_holds_tensor(torch, v) for v in value)


def _is_value(value):
    from .dataflow import InputValue, MappedValue, Value
    return isinstance(value, (InputValue, MappedValue, Value))


def _constant(torch, value):
    return _array(value) if isinstance(value, torch.Tensor) else value


def _array(tensor):
    return tensor.detach().cpu().double().numpy().copy()


def _single(array, where):
    if array.size != 1:
        raise UnsupportedError(f"{where}: needs a single number, got a tensor of {array.size}")
    return array.reshape(-1)[0]


def _require_last_dim(dim, where):
    if dim not in (-1, 1, None):
        raise UnsupportedError(f"{where}: softmax over dim {dim} is not over the features of (batch, features)")


_SIZE_HELP = "pass input_size=, one number per argument; on the command line --input-size"
