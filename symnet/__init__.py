"""symnet: exact, closed-form derivative code for trained neural networks.

    net = symnet.load("model.json")
    J = symnet.derive(net, "jacobian")(X)     # (n_samples, n_outputs, n_inputs)
"""

from .api import Derivative, derive, generate, load
from .dynamic import Rollout, rollout_jacobian, simulate
from .errors import ModelFormatError, SizeLimitError, SymnetError, UnsupportedError
from .ir.network import Affine, Input, Layer, MapMinMax, MapStd, Network, Output, RemoveConstantRows
from .scipy_callables import ivp_functions, minimize_functions
from .sensitivities import Sensitivity, sensitivity

__all__ = [
    "Affine", "Derivative", "Input", "Layer", "MapMinMax", "MapStd", "ModelFormatError", "Network",
    "Output", "RemoveConstantRows", "Rollout", "Sensitivity", "SizeLimitError", "SymnetError", "UnsupportedError",
    "derive", "generate", "ivp_functions", "load", "minimize_functions", "rollout_jacobian",
    "sensitivity", "simulate",
]
