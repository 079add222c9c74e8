"""Write the neural ODE example: xdot = NN(x, u), 30 states and one input, stiff.

The right-hand side is a network with a linear path from the states (fast, stable
decay rates from 1 to 1e4 per second: a stiffness ratio of 1e4) and a tanh layer
that couples the states and the input:

    xdot = -diag(rates) x + W2 tanh(W1 x + w u + b1)

It is what a trained neural ODE with a linear skip connection looks like; the weights
are drawn from a seeded generator, not trained: the example exists to compare
integrators, not to model a plant.  examples/neural_ode_demo.py integrates it.

Run:  python examples/write_neural_ode.py   (writes examples/neural_ode/neural_ode.json: in a
      folder of its own, so that tools/regenerate.py, which pins every examples/*.json, leaves it out)
"""

from pathlib import Path

import numpy as np

from symnet import Input, Layer, Network, Output
from symnet.importers.json_format import save_json

SEED = 30
STATES = 30
HIDDEN = 16
#: the slowest and fastest decay rates (1/s): their ratio is the stiffness
RATES = (1.0, 1.0e4)


def neural_ode(rng, n_states=STATES, hidden=HIDDEN, rates=RATES):
    """The network of xdot = -diag(rates) x + W2 tanh(W1 x + w u + b1)."""
    decay = np.round(np.geomspace(*rates, n_states), 6)
    coupling = Layer(hidden, "tansig", np.round(rng.normal(scale=0.5, size=hidden), 6),
                     [(0, np.round(rng.normal(scale=1.0 / np.sqrt(n_states), size=(hidden, n_states)), 6)),
                      (1, np.round(rng.normal(size=(hidden, 1)), 6))], name="coupling")
    derivative = Layer(n_states, "purelin", np.zeros(n_states), [(0, -np.diag(decay))],
                       [(0, np.round(rng.normal(scale=2.0, size=(n_states, hidden)), 6))], name="xdot")
    return Network([Input("x", n_states), Input("u", 1)], [coupling, derivative], [Output("xdot", 1)],
                   name="neural_ode")


def main():
    path = Path(__file__).resolve().parent / "neural_ode" / "neural_ode.json"
    save_json(neural_ode(np.random.default_rng(SEED)), path)


if __name__ == "__main__":
    main()
