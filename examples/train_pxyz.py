"""Train the bundled example: P = f(X, Y, Z) with a 3-10-1 fitnet-style network.

The situation of symnet's first user: a pressure P(T, V, n) = R*n*T/V fitted
by a tansig/purelin network with mapminmax on inputs and output, trained by
Levenberg-Marquardt (scipy's least_squares, method "lm", like MATLAB's trainlm).
The inputs live on very different scales (kelvin, cubic metres, moles), so
forgetting the normalization in a hand-derived gradient is off by orders of
magnitude.

Run:  python examples/train_pxyz.py   (writes examples/pxyz.json and, in the format
      of MATLAB's genFunction, examples/pxyz_genfunction.m)
"""

from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

import symnet
from symnet.importers.json_format import save_json
from write_genfunction import write_genfunction

R = 8.314462618e-3  # kJ/(mol K): P in kPa
RANGES = np.array([[250.0, 350.0],    # X: temperature T [K]
                   [0.01, 0.05],      # Y: volume V [m^3]
                   [1.0, 5.0]])       # Z: amount n [mol]
HIDDEN = 10
SEED = 7


def pressure(X):
    return R * X[:, 0] * X[:, 2] / X[:, 1]


def pressure_gradient(X):
    """Analytic dP/dX, dP/dY, dP/dZ."""
    P = pressure(X)
    return np.stack([P / X[:, 0], -P / X[:, 1], P / X[:, 2]], axis=1)


def mapminmax_settings(values):
    low, high = values.min(axis=0), values.max(axis=0)
    return low, 2.0 / (high - low)


def build_network(params, x_settings, y_settings):
    iw, b1, lw, b2 = _unpack(params)
    return symnet.Network(
        inputs=[symnet.Input("XYZ", 3, [symnet.MapMinMax(x_settings[0], x_settings[1], -1.0)],
                             value_range=RANGES)],
        layers=[symnet.Layer(HIDDEN, "tansig", b1, input_weights=[(0, iw)], name="hidden"),
                symnet.Layer(1, "purelin", b2, layer_weights=[(0, lw)], name="output")],
        outputs=[symnet.Output("P", 1, [symnet.MapMinMax(y_settings[0], y_settings[1], -1.0)])],
        name="pxyz",
    )


def _unpack(params):
    iw = params[:3 * HIDDEN].reshape(HIDDEN, 3)
    b1 = params[3 * HIDDEN:4 * HIDDEN]
    lw = params[4 * HIDDEN:5 * HIDDEN].reshape(1, HIDDEN)
    return iw, b1, lw, params[5 * HIDDEN:]


def train(samples=600):
    rng = np.random.default_rng(SEED)
    X = RANGES[:, 0] + (RANGES[:, 1] - RANGES[:, 0]) * rng.random((samples, 3))
    P = pressure(X)[:, None]
    x_settings, y_settings = mapminmax_settings(X), mapminmax_settings(P)
    xn = (X - x_settings[0]) * x_settings[1] - 1.0
    tn = ((P - y_settings[0]) * y_settings[1] - 1.0)[:, 0]

    def residuals(params):
        iw, b1, lw, b2 = _unpack(params)
        return (b2 + np.tanh(xn @ iw.T + b1) @ lw.T)[:, 0] - tn

    start = rng.normal(scale=0.5, size=5 * HIDDEN + 1)
    fit = least_squares(residuals, start, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=20000)
    return build_network(fit.x, x_settings, y_settings)


if __name__ == "__main__":
    net = train()
    path = Path(__file__).with_name("pxyz.json")
    save_json(net, path)
    print(f"wrote {path}")
    print(f"wrote {write_genfunction(net, path.with_name('pxyz_genfunction.m'))}")
