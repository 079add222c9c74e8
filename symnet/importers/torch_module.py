"""PyTorch importer (extra ``symnet[torch]``): ``torch.nn.Module`` objects, and
``torch.save``d state dicts given with the module they belong to.

The module is read through ``torch.fx`` symbolic tracing, so that a forward
written by hand (normalization constants, residual additions, functional
activations) is seen as the graph it is, not guessed from the list of
submodules.  Each traced node goes to the dataflow builder; a module or
function that has no exact counterpart is refused with its name.
"""

import operator
from pathlib import Path

import numpy as np

from .. import transfer as transfer_registry
from ..errors import MissingExtraError, ModelFormatError, UnsupportedError
from .dataflow import NetworkBuilder

_STATE_DICT_HELP = ("save model.state_dict() with torch.save and load it with"
                    " symnet.load(path, module=YourModule()), or on the command line with --module package.module:Class")


def _torch():
    try:
        import torch
        import torch.fx  # noqa: F401
    except ImportError:
        raise MissingExtraError("reading PyTorch models needs torch: pip install symnet[torch]") from None
    return torch


def load_torch_file(path, module=None, trust_pickle=False):
    """A Network from a ``torch.save``d file: a state dict loaded into ``module``,
    or (only with ``trust_pickle``) a whole pickled module."""
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
        return load_module(data)
    if module is None:
        raise UnsupportedError(f"the file holds a state dict, which needs its module: {_STATE_DICT_HELP}")
    if not isinstance(data, dict):
        raise ModelFormatError(f"expected a state dict, found a {type(data).__name__}")
    try:
        module.load_state_dict(data)
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as error:   # torch's refusals
        problem = " ".join(str(error).split())
        raise ModelFormatError(f"the state dict does not fit {type(module).__name__}: {problem}") from None
    return load_module(module, name=Path(path).stem)


def load_module(module, name=None, input_size=None):
    """A Network from a ``torch.nn.Module`` whose forward is a feed-forward MLP.

    ``input_size`` is needed only when no Linear layer reveals it."""
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise UnsupportedError(f"expected a torch.nn.Module, got {type(module).__name__}")
    try:
        graph_module = torch.fx.symbolic_trace(module)
    except Exception as error:  # tracing fails on data-dependent control flow and more
        problem = " ".join(str(error).split())[:300]
        raise UnsupportedError(f"cannot trace {type(module).__name__} with torch.fx: {problem}") from None
    reader = _Reader(torch, graph_module, name or type(module).__name__, input_size)
    return reader.read()


class _Reader:
    def __init__(self, torch, graph_module, name, input_size):
        self.torch = torch
        self.graph_module = graph_module
        self.modules = dict(graph_module.named_modules())
        self.builder = NetworkBuilder(name)
        self.input_size = input_size
        self.values = {}

    def read(self):
        for node in self.graph_module.graph.nodes:
            where = f"node {node.name!r}"
            handler = getattr(self, "_" + node.op)
            self.values[node] = handler(node, where)
        return self.builder.network()

    def arg(self, value):
        """A traced argument: a builder value, or a constant as a float array."""
        if isinstance(value, self.torch.fx.Node):
            return self.values[value]
        if isinstance(value, self.torch.Tensor):
            return _array(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return np.array(float(value))
        raise UnsupportedError(f"argument {value!r} of type {type(value).__name__} is not supported")

    def _placeholder(self, node, where):
        return self.builder.add_input(node.name, self.input_size)

    def _get_attr(self, node, where):
        target = self.graph_module
        for part in node.target.split("."):
            target = getattr(target, part)
        return _array(target)

    def _call_module(self, node, where):
        module = self.modules[node.target]
        where = f"module {node.target!r} ({type(module).__name__})"
        args = [self.arg(a) for a in node.args]
        if isinstance(module, self.torch.nn.Linear):
            bias = _array(module.bias) if module.bias is not None else np.zeros(module.out_features)
            return self.builder.linear(args[0], _array(module.weight), bias, where, name=node.target)
        if isinstance(module, self.torch.nn.Softmax):
            _require_last_dim(module.dim, where)
            return self.builder.softmax(args[0], where, name=node.target)
        if isinstance(module, (self.torch.nn.Identity, self.torch.nn.Dropout)):
            return args[0]
        if isinstance(module, self.torch.nn.Flatten):
            if (module.start_dim, module.end_dim) != (1, -1):
                raise UnsupportedError(f"{where}: only Flatten(1, -1) of (batch, features) is supported")
            return args[0]
        transfer = _module_transfer(self.torch.nn, module)
        if transfer is None:
            raise UnsupportedError(f"{where}: this module is not supported; symnet imports feed-forward MLPs"
                                   " (Linear and element-wise activations)")
        return self._activation(args[0], transfer, where)

    def _call_function(self, node, where):
        where = f"node {node.name!r} ({getattr(node.target, '__name__', node.target)})"
        return self._call(node.target, node, where)

    def _call_method(self, node, where):
        where = f"node {node.name!r} (Tensor.{node.target})"
        return self._call(_METHODS.get(node.target), node, where)

    def _call(self, target, node, where):
        args = [self.arg(a) for a in node.args]
        kwargs = {k: v for k, v in node.kwargs.items()}
        op = _ARITHMETIC.get(target)
        if op is not None:
            if kwargs.get("alpha", 1) != 1:
                raise UnsupportedError(f"{where}: add/sub with alpha is not supported")
            return self._arithmetic(op, args[0], args[1], where)
        if target in _SOFTMAX:
            dim = kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
            _require_last_dim(dim, where)
            return self.builder.softmax(args[0], where, name=node.name)
        if target is operator.neg or target in (self.torch.neg, self.torch.negative):
            return self.builder.constant_op(args[0], "rsub", np.array(0.0), where)
        if target in _IDENTITY_FUNCTIONS:
            return args[0]
        transfer = _function_transfer(self.torch, target, node, kwargs)
        if transfer is None:
            raise UnsupportedError(f"{where}: this operation is not supported; symnet imports feed-forward"
                                   " MLPs (Linear, element-wise activations, arithmetic with constants)")
        return self._activation(args[0], transfer, where)

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

    def _activation(self, value, transfer, where):
        if isinstance(value, np.ndarray):
            raise UnsupportedError(f"{where}: an activation of a constant is not supported")
        name, params = transfer
        entry = transfer_registry.lookup(name)
        params = transfer_registry.normalize_parameters(name, params)
        return self.builder.unary(value, lambda e: entry.reference_expression(e, params), where,
                                  (entry.name, params))

    def _output(self, node, where):
        results = node.args[0]
        results = list(results) if isinstance(results, (tuple, list)) else [results]
        for number, result in enumerate(results, start=1):
            value = self.arg(result)
            if isinstance(value, np.ndarray):
                raise UnsupportedError(f"output {number} is a constant")
            self.builder.output(value, f"y{number}" if len(results) > 1 else "y", f"output {number}")


def _array(tensor):
    return tensor.detach().cpu().double().numpy().copy()


def _single(array, where):
    if array.size != 1:
        raise UnsupportedError(f"{where}: dividing by a tensor of activations needs a scalar numerator")
    return array.reshape(-1)[0]


def _require_last_dim(dim, where):
    if dim not in (-1, 1, None):
        raise UnsupportedError(f"{where}: softmax over dim {dim} is not over the features of (batch, features)")


def _module_transfer(nn, module):
    """(registry name, params) for an activation module, or None."""
    if isinstance(module, nn.Hardtanh):   # ReLU6 is a Hardtanh too
        return "clip", {"min": module.min_val, "max": module.max_val}
    if isinstance(module, nn.LeakyReLU):
        return "leaky_relu", {"alpha": module.negative_slope}
    if isinstance(module, nn.ELU):
        return "elu", {"alpha": module.alpha}
    if isinstance(module, nn.Softplus):
        return "softplus", {"beta": module.beta, "threshold": module.threshold}
    if isinstance(module, nn.GELU):
        return _gelu(module.approximate)
    simple = {nn.Tanh: "tansig", nn.Sigmoid: "logsig", nn.ReLU: "poslin", nn.SELU: "selu",
              nn.SiLU: "swish", nn.Softsign: "elliotsig"}
    for kind, name in simple.items():
        if type(module) is kind:
            return name, {}
    if type(module) is nn.Hardsigmoid:
        return "hard_sigmoid", {"alpha": 1.0 / 6.0, "beta": 0.5}
    return None


def _gelu(approximate):
    return {"none": ("gelu", {}), "tanh": ("gelu_tanh", {})}.get(approximate)


def _function_transfer(torch, target, node, kwargs):
    """(registry name, params) for a functional activation, or None."""
    functional = torch.nn.functional
    args = node.args

    def option(name, position, default):
        return kwargs.get(name, args[position] if len(args) > position else default)
    simple = {torch.tanh: "tansig", functional.tanh: "tansig", torch.sigmoid: "logsig",
              functional.sigmoid: "logsig", torch.relu: "poslin", functional.relu: "poslin",
              functional.silu: "swish", functional.selu: "selu", torch.selu: "selu",
              functional.softsign: "elliotsig"}
    if target in simple:
        return simple[target], {}
    if target is functional.leaky_relu:
        return "leaky_relu", {"alpha": option("negative_slope", 1, 0.01)}
    if target is functional.elu:
        return "elu", {"alpha": option("alpha", 1, 1.0)}
    if target is functional.softplus:
        return "softplus", {"beta": option("beta", 1, 1.0), "threshold": option("threshold", 2, 20.0)}
    if target is functional.gelu:
        return _gelu(kwargs.get("approximate", "none"))
    if target is functional.hardtanh:
        return "clip", {"min": option("min_val", 1, -1.0), "max": option("max_val", 2, 1.0)}
    if target is functional.relu6:
        return "clip", {"min": 0.0, "max": 6.0}
    if target is functional.hardsigmoid:
        return "hard_sigmoid", {"alpha": 1.0 / 6.0, "beta": 0.5}
    return None


_ARITHMETIC = {operator.add: "add", operator.sub: "sub", operator.mul: "mul", operator.truediv: "div",
               operator.iadd: "add", operator.isub: "sub", operator.imul: "mul", operator.itruediv: "div"}
_METHODS = {}
_SOFTMAX = []
_IDENTITY_FUNCTIONS = []


def _register_torch_names():
    """Torch functions and tensor methods that map onto the operations above (filled lazily,
    since torch may not be installed)."""
    import torch
    _ARITHMETIC.update({torch.add: "add", torch.sub: "sub", torch.mul: "mul", torch.div: "div",
                        torch.subtract: "sub", torch.multiply: "mul", torch.true_divide: "div"})
    _SOFTMAX.extend([torch.softmax, torch.nn.functional.softmax])
    _IDENTITY_FUNCTIONS.extend([torch.nn.functional.dropout])
    _METHODS.update({"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
                     "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu,
                     "softmax": torch.softmax, "neg": torch.neg})


try:
    import torch as _torch_if_installed  # noqa: F401
except ImportError:  # the importer then stops at _torch() with the MissingExtraError
    pass
else:
    _register_torch_names()
