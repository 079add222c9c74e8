"""Write the second bundled example: a 4-input, 3-class classifier above the layered threshold.

Where examples/pxyz.json (51 weights and biases) is emitted unrolled, this network
(123 weights and biases) is emitted in the layered form by default, so generated/
holds golden files of both strategies.  It exercises what pxyz does not: mapstd on
the input, a cascade connection (the input feeds the second hidden layer too), a
softmax layer and two outputs (the class probabilities and the second hidden
layer's activations, mapped back through mapstd).  The weights are drawn from a
seeded generator, not trained: the example exists to pin down the generated code.

Run:  python examples/write_classifier.py   (writes examples/classifier.json)
"""

from pathlib import Path

import numpy as np

from symnet import Input, Layer, MapStd, Network, Output
from symnet.importers.json_format import save_json

SEED = 15
FEATURES = 4
SIZES = {"hidden": 8, "gate": 5, "classes": 3}
# Raw feature ranges (sepal and petal length and width in cm, as in Fisher's iris data).
RANGES = np.array([[4.3, 7.9], [2.0, 4.4], [1.0, 6.9], [0.1, 2.5]])


def rounded(values):
    """Weights with few digits, so that the JSON file and the generated code stay readable."""
    return np.round(values, 6)


def classifier(rng):
    mean = RANGES.mean(axis=1)
    std = (RANGES[:, 1] - RANGES[:, 0]) / 4
    features = Input("features", FEATURES, [MapStd(mean, rounded(1 / std), 0.0)], RANGES)
    hidden = Layer(SIZES["hidden"], "tansig", rounded(rng.normal(scale=0.5, size=SIZES["hidden"])),
                   [(0, rounded(rng.normal(scale=0.8, size=(SIZES["hidden"], FEATURES))))], name="hidden")
    gate = Layer(SIZES["gate"], "logsig", rounded(rng.normal(scale=0.5, size=SIZES["gate"])),
                 [(0, rounded(rng.normal(scale=0.5, size=(SIZES["gate"], FEATURES))))],
                 [(0, rounded(rng.normal(scale=0.8, size=(SIZES["gate"], SIZES["hidden"]))))], name="gate")
    classes = Layer(SIZES["classes"], "softmax", rounded(rng.normal(scale=0.5, size=SIZES["classes"])),
                    layer_weights=[(1, rounded(rng.normal(scale=1.5, size=(SIZES["classes"], SIZES["gate"]))))],
                    name="classes")
    gate_scaling = MapStd(np.full(SIZES["gate"], 0.5), np.full(SIZES["gate"], 4.0), 0.0)
    outputs = [Output("probabilities", 2), Output("gate", 1, [gate_scaling])]
    return Network([features], [hidden, gate, classes], outputs, name="classifier")


def main():
    net = classifier(np.random.default_rng(SEED))
    save_json(net, Path(__file__).resolve().parent / "classifier.json")


if __name__ == "__main__":
    main()
