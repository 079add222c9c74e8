"""Shared test helpers: random networks, module loading, required tools."""

import importlib.util
import os
import shutil
import sys

import numpy as np
import pytest

import symnet
from symnet import Affine, Input, Layer, MapMinMax, MapStd, Network, Output, RemoveConstantRows

SMOOTH_TRANSFERS = ("tansig", "logsig", "purelin", "radbas", "softplus", "swish", "elu")
ALL_TRANSFERS = SMOOTH_TRANSFERS + ("poslin", "satlin", "satlins", "elliotsig", "leaky_relu", "softmax")


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name):
    """Path of an external tool. In CI a missing tool fails the test; on a
    developer's machine the test is skipped with the reason shown."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (CI installs it via .ci/run)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)
    return path


def require_module(name):
    """Import a Python package a test needs (an importer's framework). In CI a
    missing package fails the test; on a developer's machine it is skipped.
    Works inside a test and at the top of a test module."""
    try:
        return importlib.import_module(name)
    except ImportError:
        message = f"Python package {name} is not installed (CI installs it via .ci/run)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)


def import_file(path, module_name):
    spec = importlib.util.spec_from_file_location(module_name, str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop(module_name, None)
    spec.loader.exec_module(module)
    return module


def random_steps(rng, size, allow_removal=True):
    """A random input processing chain for ``size`` raw rows; returns (steps, processed size)."""
    steps = []
    current = size
    if allow_removal and size > 1 and rng.random() < 0.3:
        keep = tuple(sorted(rng.choice(size, size=size - 1, replace=False).tolist()))
        steps.append(RemoveConstantRows(size, keep))
        current = size - 1
    choice = rng.integers(3)
    if choice == 0:
        offset = rng.uniform(-50, 50, current)
        steps.append(MapMinMax(offset, rng.uniform(0.01, 5, current), -1.0))
    elif choice == 1:
        steps.append(MapStd(rng.uniform(-5, 5, current), rng.uniform(0.1, 3, current), 0.0))
    else:
        steps.append(Affine(rng.uniform(0.2, 3, current) * rng.choice([-1, 1], current),
                            rng.uniform(-1, 1, current)))
    return steps, current


def random_output_steps(rng, size):
    """Output steps in target order for a layer of ``size`` units; returns (steps, raw size)."""
    steps = []
    raw = size
    if rng.random() < 0.3:
        raw = size + 1
        removed = int(rng.integers(raw))
        keep = tuple(k for k in range(raw) if k != removed)
        steps.append(RemoveConstantRows(raw, keep, (float(rng.uniform(-3, 3)),)))
    steps.append(MapMinMax(rng.uniform(-10, 10, size), rng.uniform(0.05, 4, size), -1.0))
    return steps, raw


def random_network(seed, depth=None, transfers=ALL_TRANSFERS, max_width=5, cascade=None):
    """A random network: depth 1-4, several inputs and outputs, mixed transfer functions,
    every normalization step, optional cascade links (inputs feeding later layers)."""
    rng = np.random.default_rng(seed)
    depth = depth or int(rng.integers(1, 5))
    cascade = bool(rng.random() < 0.5) if cascade is None else cascade
    inputs, processed_sizes = [], []
    for i in range(int(rng.integers(1, 3))):
        size = int(rng.integers(1, 4))
        steps, processed = random_steps(rng, size)
        inputs.append(Input(f"in{i}", size, steps))
        processed_sizes.append(processed)
    layers = []
    for index in range(depth):
        last = index == depth - 1
        size = int(rng.integers(1, 4)) if last else int(rng.integers(1, max_width + 1))
        name = str(rng.choice(transfers))
        if last and name == "softmax" and size == 1:
            name = "tansig"
        input_weights = []
        if index == 0 or (cascade and rng.random() < 0.6):
            for source, processed in enumerate(processed_sizes):
                input_weights.append((source, rng.normal(scale=0.8, size=(size, processed))))
        layer_weights = [(index - 1, rng.normal(scale=0.8, size=(size, layers[-1].size)))] if index else []
        if cascade and index >= 2 and rng.random() < 0.5:
            layer_weights.append((0, rng.normal(scale=0.5, size=(size, layers[0].size))))
        layers.append(Layer(size, name, rng.normal(scale=0.5, size=size), input_weights, layer_weights))
    outputs = []
    steps, _ = random_output_steps(rng, layers[-1].size)
    outputs.append(Output("out", depth - 1, steps))
    if depth > 1 and rng.random() < 0.4:
        outputs.append(Output("hidden_out", depth - 2, []))
    return Network(inputs, layers, outputs, name=f"random{seed}")


def points_for(net, count=4, seed=1):
    from symnet.reference.finite_differences import sample_points
    return sample_points(net, count, seed=seed)


def closed_form(net, what):
    """``f(X)``: ``what`` of ``net`` from the unrolled closed form, printed by sympy's own
    lambdify: the reference for generated code, independent of the layered steps,
    symnet's printers and templates (``symnet.derive`` evaluates the layered NumPy code)."""
    from symnet.api import _closed_form
    return _closed_form(net, what)
