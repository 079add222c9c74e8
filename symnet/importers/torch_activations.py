"""PyTorch's operations by what the importer makes of them: activations (modules, functions
and tensor methods) as entries of the transfer registry, (registry name, parameters) or None;
and the functions and methods that are arithmetic, matrix products, softmax, identities, or
that only move features."""

import operator


def module_transfer(nn, module):
    """(registry name, params) for an activation module, or None."""
    if isinstance(module, nn.Hardtanh):   # ReLU6 is a Hardtanh too
        return "clip", {"min": module.min_val, "max": module.max_val}
    if isinstance(module, nn.LeakyReLU):
        return "leaky_relu", {"alpha": module.negative_slope}
    if isinstance(module, nn.ELU):
        return "elu", {"alpha": module.alpha}
    if isinstance(module, nn.CELU):
        return "celu", {"alpha": module.alpha}
    if isinstance(module, nn.Softplus):
        return "softplus", {"beta": module.beta, "threshold": module.threshold}
    if isinstance(module, nn.GELU):
        return gelu(module.approximate)
    simple = {nn.Tanh: "tansig", nn.Sigmoid: "logsig", nn.ReLU: "poslin", nn.SELU: "selu",
              nn.SiLU: "swish", nn.Softsign: "elliotsig", nn.Mish: "mish", nn.LogSigmoid: "log_sigmoid",
              nn.Tanhshrink: "tanhshrink"}
    for kind, name in simple.items():
        if type(module) is kind:
            return name, {}
    if type(module) is nn.Hardsigmoid:
        return "hard_sigmoid", {"alpha": 1.0 / 6.0, "beta": 0.5}
    return None


def gelu(approximate):
    return {"none": ("gelu", {}), "tanh": ("gelu_tanh", {})}.get(approximate)


def function_transfer(torch, target, args, kwargs):
    """(registry name, params) for a functional activation, or None."""
    functional = torch.nn.functional

    def option(name, position, default):
        return kwargs.get(name, args[position] if len(args) > position else default)
    simple = {torch.tanh: "tansig", functional.tanh: "tansig", torch.sigmoid: "logsig",
              functional.sigmoid: "logsig", torch.relu: "poslin", functional.relu: "poslin",
              functional.silu: "swish", functional.selu: "selu", torch.selu: "selu",
              functional.softsign: "elliotsig", torch.sin: "sin", torch.cos: "cos",
              functional.mish: "mish", functional.logsigmoid: "log_sigmoid", functional.tanhshrink: "tanhshrink"}
    if target in simple:
        return simple[target], {}
    if target is functional.leaky_relu:
        return "leaky_relu", {"alpha": option("negative_slope", 1, 0.01)}
    if target is functional.elu:
        return "elu", {"alpha": option("alpha", 1, 1.0)}
    if target in (functional.celu, torch.celu):
        return "celu", {"alpha": option("alpha", 1, 1.0)}
    if target is functional.softplus:
        return "softplus", {"beta": option("beta", 1, 1.0), "threshold": option("threshold", 2, 20.0)}
    if target is functional.gelu:
        return gelu(kwargs.get("approximate", "none"))
    if target is functional.hardtanh:
        return "clip", {"min": option("min_val", 1, -1.0), "max": option("max_val", 2, 1.0)}
    if target is functional.relu6:
        return "clip", {"min": 0.0, "max": 6.0}
    if target is functional.hardsigmoid:
        return "hard_sigmoid", {"alpha": 1.0 / 6.0, "beta": 0.5}
    return None


def method_function(torch, name):
    """The torch function a tensor method of that name stands for, or None."""
    functions = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "sin": torch.sin,
                 "cos": torch.cos, "softmax": torch.softmax, "neg": torch.neg, "add": torch.add,
                 "sub": torch.sub, "mul": torch.mul, "div": torch.div, "pow": torch.pow, "exp": torch.exp,
                 "log": torch.log, "matmul": torch.matmul, "mm": torch.mm}
    return functions.get(name)


ARITHMETIC = {operator.add: "add", operator.sub: "sub", operator.mul: "mul", operator.truediv: "div",
               operator.iadd: "add", operator.isub: "sub", operator.imul: "mul", operator.itruediv: "div"}
MATRIX_PRODUCTS = [operator.matmul]
SOFTMAX = []
IDENTITY_FUNCTIONS = []
INDEX_FUNCTIONS = [operator.getitem]
INDEX_METHODS = ("split", "chunk", "unbind", "narrow", "select", "view", "view_as", "reshape", "reshape_as",
                  "flatten", "squeeze", "unsqueeze", "tensor_split", "index_select", "t", "transpose", "permute")


def _register_torch_names():
    """Torch functions that map onto the operations above (filled lazily, since torch may
    not be installed)."""
    import torch
    ARITHMETIC.update({torch.add: "add", torch.sub: "sub", torch.mul: "mul", torch.div: "div",
                        torch.subtract: "sub", torch.multiply: "mul", torch.true_divide: "div"})
    SOFTMAX.extend([torch.softmax, torch.nn.functional.softmax])
    MATRIX_PRODUCTS.extend([torch.matmul, torch.mm])
    IDENTITY_FUNCTIONS.extend([torch.nn.functional.dropout, torch.clone])
    INDEX_FUNCTIONS.extend([torch.cat, torch.concat, torch.concatenate, torch.hstack, torch.column_stack,
                             torch.stack, torch.split, torch.chunk, torch.unbind, torch.narrow, torch.select,
                             torch.reshape, torch.flatten, torch.squeeze, torch.unsqueeze, torch.tensor_split,
                             torch.index_select, torch.t, torch.transpose, torch.permute])


try:
    import torch as _torch_if_installed  # noqa: F401
except ImportError:  # the importer then stops at _torch() with the MissingExtraError
    pass
else:
    _register_torch_names()
