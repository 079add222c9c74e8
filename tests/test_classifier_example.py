"""The second bundled example (examples/classifier.json: mapstd, a cascade connection,
softmax, two outputs, above the layered threshold): the committed file is what its
seeded script writes, and every target's code for it, in both strategies, computes the
closed form's values and derivatives (the golden copies in generated/ are pinned by
test_generated_drift.py)."""

import pytest

import symnet
from symnet.reference.finite_differences import compare, finite_difference_jacobian
from symnet.emit.layered_common import resolve_strategy
from symnet.importers.json_format import network_to_dict

from conftest import REPO
from helpers import closed_form, import_file, points_for
from runners import build, variant_id, variants

EXAMPLE = REPO / "examples" / "classifier.json"
DERIVATIVES = ("value", "jacobian", "hessian")


@pytest.fixture(scope="module")
def classifier():
    return symnet.load(EXAMPLE)


def test_the_committed_json_is_what_the_seeded_script_writes(classifier):
    writer = import_file(REPO / "examples" / "write_classifier.py", "write_classifier")
    expected = writer.classifier(writer.np.random.default_rng(writer.SEED))
    assert network_to_dict(classifier) == network_to_dict(expected), "run: python examples/write_classifier.py"


def test_the_example_covers_what_pxyz_does_not(classifier):
    assert resolve_strategy("auto", classifier) == "layered"
    assert [layer.transfer for layer in classifier.layers] == ["tansig", "logsig", "softmax"]
    assert classifier.layers[1].input_weights, "the cascade connection from the input"
    assert classifier.inputs[0].steps[0].kind == "mapstd"
    assert len(classifier.outputs) == 2


@pytest.mark.parametrize("variant", variants(), ids=variant_id)
def test_every_target_computes_the_closed_form(classifier, variant, tmp_path):
    target, strategy = variant
    built = build(target, classifier, tmp_path, derivatives=DERIVATIVES, name="classifier", strategy=strategy)
    X = points_for(classifier, count=5, seed=3)
    results = built.evaluate_many(DERIVATIVES, X)
    for what in DERIVATIVES:
        assert compare(results[what], closed_form(classifier, what)(X)).max_rel_error < 1e-12, what
    assert compare(results["jacobian"], finite_difference_jacobian(classifier, X)).max_rel_error < 1e-6
