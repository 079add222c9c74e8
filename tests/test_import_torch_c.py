"""C code generated from an imported PyTorch model compiles with gcc and agrees
with torch's own Jacobian (torch.func.jacrev, float64)."""

import subprocess

import numpy as np
import pytest

import symnet
from helpers import require_module, require_tool
from symnet.reference.finite_differences import compare

torch = require_module("torch")

import torch_models  # noqa: E402  (needs torch)

DRIVER = """#include <stdio.h>
#include "{name}.h"

static const double X[{count}][{name_upper}_N_INPUTS] = {{{points}}};

int main(void) {{
    double y[{name_upper}_N_OUTPUTS];
    double jac[{name_upper}_N_OUTPUTS * {name_upper}_N_INPUTS];
    for (int s = 0; s < {count}; ++s) {{
        {name}_evaluate(X[s], y);
        {name}_jacobian(X[s], jac);
        for (int i = 0; i < {name_upper}_N_OUTPUTS; ++i) printf("%.17g\\n", y[i]);
        for (int k = 0; k < {name_upper}_N_OUTPUTS * {name_upper}_N_INPUTS; ++k) printf("%.17g\\n", jac[k]);
    }}
    return 0;
}}
"""


@pytest.mark.parametrize("model", ["silu_gelu", "gelu_tanh_residual", "relu_softmax"])
def test_generated_c_agrees_with_torch(model, tmp_path):
    gcc = require_tool("gcc")
    module = torch_models.build(model)
    net = symnet.load(module)
    X = torch_models.sample_inputs(4, normalized=torch_models.is_normalized(model))
    name = "torchnet"
    symnet.generate(net, ["c"], tmp_path, derivatives=["value", "jacobian"], name=name)
    points = ", ".join("{" + ", ".join(repr(float(v)) for v in row) + "}" for row in X.numpy())
    (tmp_path / "driver.c").write_text(DRIVER.format(name=name, name_upper=name.upper(), count=len(X),
                                                     points=points))
    subprocess.run([gcc, "-std=c99", "-O2", "-Wall", "-Werror", "-o", "driver", "driver.c", f"{name}.c", "-lm"],
                   cwd=tmp_path, check=True, capture_output=True, text=True)
    printed = subprocess.run([str(tmp_path / "driver")], check=True, capture_output=True, text=True).stdout
    numbers = np.array([float(line) for line in printed.split()]).reshape(len(X), -1)
    n_out, n_in = net.n_outputs, net.n_inputs
    values, jacobians = numbers[:, :n_out], numbers[:, n_out:].reshape(len(X), n_out, n_in)
    expected_values = module(X).detach().numpy()
    assert compare(values[:, None, :], expected_values[:, None, :]).max_rel_error <= 1e-13
    result = compare(jacobians, torch_models.jacobians(module, X))
    assert result.max_rel_error <= 1e-10, result
