"""Property-based tests: random networks through every registered target.

Hypothesis draws the architecture (depth 1-4, widths 1-12, every transfer
function with drawn parameters, every normalization step on inputs and
outputs, one to three outputs read from any layer, cascade links from inputs
and earlier layers); the weights come from a drawn seed.  For each network:

  * every target and strategy computes value, Jacobian and Hessian within
    ``TARGET_BOUND`` of symnet's reference (sympy's lambdify of the
    unsimplified program), relative to each output row's scale (check.compare);
  * the reference value equals the direct numeric evaluation (symnet/ir/evaluation.py,
    an independent path) to 1e-12, and its Jacobian and Hessian equal those of
    symnet.reference.high_precision (second-order forward mode in mpmath at 30 digits,
    sharing nothing with the symbolic stage) within ``EXACT_BOUND``;
  * when every transfer function is smooth, the reference Jacobian agrees
    with central differences of the numeric evaluation (per output row), and
    the Hessian with central differences of the Jacobian (relative to its
    largest entry: differences of a Jacobian carry an absolute error), to
    ``DIFFERENCE_BOUND``.

The budget is small and derandomized in CI; ``pytest --long`` draws many more.
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnet
from symnet import Affine, Input, Layer, MapMinMax, MapStd, Network, Output, RemoveConstantRows
from symnet.ir import transfer
from symnet.reference.finite_differences import compare, finite_difference_hessian, finite_difference_jacobian, sample_points
from symnet.errors import UnsupportedError
from symnet.reference.high_precision import reference_values
from symnet.layered.network import writes_transfers_of

from conftest import budget
from helpers import closed_form
from runners import build, variants

TARGET_BOUND = 1e-10
EXACT_BOUND = 1e-10
DIFFERENCE_BOUND = 1e-6

TRANSFERS = tuple(sorted(name for name, entry in transfer.REGISTRY.items() if name != "expression"))
#: twice differentiable everywhere (with default parameters), so differences check the Hessian
SMOOTH = {"purelin", "tansig", "logsig", "radbas", "softplus", "swish", "gelu", "gelu_tanh", "softmax", "rms_norm"}
PARAMETERS = {
    "leaky_relu": lambda rng: (("alpha", float(rng.uniform(0.01, 0.5))),),
    "elu": lambda rng: (("alpha", float(rng.uniform(0.5, 2.0))),),
    "selu": lambda rng: (),
    "softplus": lambda rng: (("beta", float(rng.uniform(0.5, 3.0))),),
    "hard_sigmoid": lambda rng: (("alpha", float(rng.uniform(0.1, 0.5))), ("beta", 0.5)),
    "clip": lambda rng: (("min", float(rng.uniform(-2, -0.5))), ("max", float(rng.uniform(0.5, 2)))),
    "rms_norm": lambda rng: (("eps", float(rng.uniform(1e-3, 0.5))),),
}
INPUT_STEPS = ("none", "mapminmax", "mapstd", "affine", "removeconstantrows", "mapstd+mapminmax")
OUTPUT_STEPS = ("none", "mapminmax", "mapstd", "affine", "removeconstantrows")


@dataclass(frozen=True)
class Spec:
    """What hypothesis drew; ``network()`` builds it."""

    seed: int
    inputs: tuple        # ((size, step kind), ...)
    layers: tuple        # ((width, transfer, input sources, layer sources), ...)
    outputs: tuple       # ((layer, step kind), ...)

    def network(self):
        rng = np.random.default_rng(self.seed)
        inputs, processed = zip(*(_input(rng, k, size, kind) for k, (size, kind) in enumerate(self.inputs)))
        layers = []
        for width, name, from_inputs, from_layers in self.layers:
            params = PARAMETERS.get(name, lambda r: ())(rng)
            size = max(width, 2) if name == "softmax" else width
            layers.append(Layer(size, name, rng.normal(scale=0.5, size=size),
                                [(s, rng.normal(scale=0.8, size=(size, processed[s]))) for s in from_inputs],
                                [(s, rng.normal(scale=0.8, size=(size, layers[s].size))) for s in from_layers],
                                transfer_params=params))
        outputs = [_output(rng, k, layer, layers[layer].size, kind) for k, (layer, kind) in enumerate(self.outputs)]
        return Network(inputs, layers, outputs, name=f"property{self.seed}")

    @property
    def smooth(self):
        return all(name in SMOOTH for _, name, _, _ in self.layers)


def _input(rng, index, size, kind):
    steps, rows = [], size
    if kind == "removeconstantrows" and size > 1:
        rows = size - 1
        steps.append(RemoveConstantRows(size, tuple(sorted(rng.choice(size, rows, replace=False).tolist()))))
    if kind in ("mapstd", "mapstd+mapminmax"):
        steps.append(MapStd(rng.uniform(-5, 5, rows), rng.uniform(0.2, 3, rows), 0.0))
    if kind in ("mapminmax", "mapstd+mapminmax", "removeconstantrows"):
        steps.append(MapMinMax(rng.uniform(-50, 50, rows), rng.uniform(0.01, 5, rows), -1.0))
    if kind == "affine":
        steps.append(Affine(rng.uniform(0.2, 3, rows) * rng.choice([-1, 1], rows), rng.uniform(-1, 1, rows)))
    return Input(f"x{index}", size, steps), rows


def _output(rng, index, layer, size, kind):
    steps = []
    if kind == "removeconstantrows":
        removed = int(rng.integers(size + 1))
        steps.append(RemoveConstantRows(size + 1, tuple(k for k in range(size + 1) if k != removed),
                                        (float(rng.uniform(-3, 3)),)))
        kind = "mapminmax"
    if kind == "mapminmax":
        steps.append(MapMinMax(rng.uniform(-10, 10, size), rng.uniform(0.05, 4, size), -1.0))
    elif kind == "mapstd":
        steps.append(MapStd(rng.uniform(-10, 10, size), rng.uniform(0.05, 4, size), 0.0))
    elif kind == "affine":
        steps.append(Affine(rng.uniform(0.2, 3, size), rng.uniform(-1, 1, size)))
    return Output(f"y{index}", layer, steps)


@st.composite
def specs(draw, max_width=12):
    inputs = tuple(draw(st.lists(st.tuples(st.integers(1, 3), st.sampled_from(INPUT_STEPS)), min_size=1, max_size=2)))
    depth = draw(st.integers(1, 4))
    layers = []
    for index in range(depth):
        width = draw(st.integers(1, max_width if index < depth - 1 else 3))
        name = draw(st.sampled_from(TRANSFERS))
        from_layers = (index - 1,) if index else ()
        if index >= 2 and draw(st.booleans()):
            from_layers = (0,) + from_layers                 # a skip connection
        from_inputs = tuple(range(len(inputs))) if index == 0 else tuple(
            k for k in range(len(inputs)) if draw(st.booleans()))   # cascade links
        layers.append((width, name, from_inputs, from_layers))
    outputs = [(depth - 1, draw(st.sampled_from(OUTPUT_STEPS)))]
    outputs += [(draw(st.integers(0, depth - 1)), draw(st.sampled_from(OUTPUT_STEPS)))
                for _ in range(draw(st.integers(0, 2)))]
    return Spec(draw(st.integers(0, 2**31)), inputs, tuple(layers), tuple(outputs))


@settings(max_examples=budget(20, 2000))
@given(specs())
def test_reference_agrees_with_the_numeric_path_30_digits_and_finite_differences(spec):
    net = spec.network()
    X = sample_points(net, 3, seed=spec.seed % 1000)
    value = closed_form(net, "value")(X)
    np.testing.assert_allclose(value, net.evaluate(X), rtol=1e-12, atol=1e-12 * (np.abs(value).max() + 1))
    jacobian = closed_form(net, "jacobian")
    derivatives = {"jacobian": jacobian(X), "hessian": closed_form(net, "hessian")(X)}
    for what, computed in derivatives.items():
        exact = reference_values(net, what, X)
        assert compare(computed, exact).max_rel_error <= EXACT_BOUND, what
    if spec.smooth:
        assert compare(derivatives["jacobian"], finite_difference_jacobian(net, X)).max_rel_error <= DIFFERENCE_BOUND
        # differences of a Jacobian carry an absolute error: measured against the largest entry
        fd = finite_difference_hessian(jacobian, net, X)
        assert np.abs(derivatives["hessian"] - fd).max() <= DIFFERENCE_BOUND * np.abs(fd).max()


@settings(max_examples=budget(3, 300))
@given(specs(max_width=6))
def test_every_target_computes_the_reference(spec):
    net = spec.network()
    X = sample_points(net, 3, seed=spec.seed % 1000)
    derivatives = ("value", "jacobian", "hessian")
    reference = {what: closed_form(net, what)(X) for what in derivatives}
    with tempfile.TemporaryDirectory() as folder:
        for target, strategy in variants():
            if strategy == "layered" and not writes_transfers_of(net):
                with pytest.raises(UnsupportedError, match="layered strategy cannot write the whole-layer"):
                    build(target, net, Path(folder) / f"{target}-{strategy}", derivatives, strategy=strategy)
                continue
            built = build(target, net, Path(folder) / f"{target}-{strategy}", derivatives, strategy=strategy)
            results = built.evaluate_many(derivatives, X)
            for what in derivatives:
                error = compare(results[what], reference[what]).max_rel_error
                assert error <= TARGET_BOUND, (target, strategy, what, error)
