"""The main job on the bundled example: exact dP/dX, dP/dY, dP/dZ of a trained
3-10-1 fitnet-style network, as code, checked against the analytic gradient,
and read again from the MATLAB genFunction file of the same network.

Run:  python examples/pxyz_demo.py [OUT_DIR]
"""

import sys
from pathlib import Path

import numpy as np

import symnet
from train_pxyz import RANGES, pressure_gradient

HERE = Path(__file__).resolve().parent


def main(out_dir):
    net = symnet.load(HERE / "pxyz.json")
    paths = symnet.generate(net, ["all"], out_dir, derivatives=["value", "gradient", "jacobian", "hessian"])
    print("generated:", *[str(p) for p in paths], sep="\n  ")
    module = next(p for p in paths if p.name == "pxyz.py")
    print(f"\n--- {module} (first lines) ---")
    print("\n".join(module.read_text().splitlines()[:40]))

    X = RANGES[:, 0] + (RANGES[:, 1] - RANGES[:, 0]) * np.random.default_rng(3).random((2000, 3))
    symbolic = symnet.derive(net, "gradient")(X)
    analytic = pressure_gradient(X)
    error = np.linalg.norm(symbolic - analytic, axis=1) / np.linalg.norm(analytic, axis=1)
    naive = forgot_the_normalization(net, X)
    naive_error = np.linalg.norm(naive - analytic, axis=1) / np.linalg.norm(analytic, axis=1)
    print("\n--- gradient of P = R*Z*X/Y: symnet vs analytic, 2000 points in the training range ---")
    print(f"at X, Y, Z = {X[0].round(4)}:")
    print(f"  symnet    {symbolic[0]}\n  analytic  {analytic[0]}\n  no normalization {naive[0]}")
    print(f"relative error |grad_symnet - grad_f| / |grad_f|: median {np.median(error):.2e}, max {error.max():.2e}"
          " (the network's own fitting error)")
    print(f"the same for a gradient that forgets the normalization: median {np.median(naive_error):.2e}")
    ratio = np.median(naive / symbolic, axis=0)
    gains = net.outputs[0].steps[0].gain[0] / net.inputs[0].steps[0].gain
    print("  it is off by the gain ratio gain_P/gain_x of each input: forgot/symnet (median)",
          ", ".join(f"{v:.4e}" for v in ratio), "| gain ratios", ", ".join(f"{v:.4e}" for v in gains))
    same_network_from_matlab(symbolic, X)


def same_network_from_matlab(expected, X):
    """The network as MATLAB's genFunction writes it gives the same gradient as the JSON file."""
    path = HERE / "pxyz_genfunction.m"
    gradient = symnet.derive(symnet.load(path), "gradient")(X)
    print(f"\n--- the same network as a MATLAB genFunction file, {path.name} ---")
    print(f"largest |gradient from the .m file - gradient from the .json file|, 2000 points:"
          f" {np.max(np.abs(gradient - expected)):.1e}")


def forgot_the_normalization(net, X):
    """The classic mistake: differentiate the normalized network and use it as dP/dX."""
    hidden, output = net.layers
    gain_x = net.inputs[0].steps[0].gain
    xn = (X - net.inputs[0].steps[0].xoffset) * gain_x - 1.0
    h = np.tanh(xn @ hidden.input_weights[0][1].T + hidden.bias)
    return ((1 - h**2) * output.layer_weights[0][1][0]) @ hidden.input_weights[0][1]


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("out") / "pxyz")
