"""symnet.layered.pairing: the products of a directional derivative that read the same
weights are placed side by side without breaking any dependency, and the C target computes
each pair in one loop nest with the same numbers (its self-check against the 30-digit
reference), also where the single-point arrays share storage in unions."""

import numpy as np
import pytest

import symnet
from helpers import random_network
from runners import assert_passed, c_self_check
from symnet.layered.network import layered_network
from symnet.layered.pairing import groups, paired_products
from symnet.layered.schedule import layered_program
from symnet.layered.steps import reads, written
from test_derivative_spec import SMOOTH, _square_network, _wide_network

KINDS = ("jvp", "vjp", "hvp", "laplacian", "d2y1_dx1_dx1", "d1y1_dx1")


def _in_dependency_order(original, reordered):
    """True when ``reordered`` is a permutation of ``original`` in which every step comes
    after every earlier (in ``original``) step writing what it reads, and before every later
    one writing it again."""
    if sorted(map(id, original)) != sorted(map(id, reordered)):
        return False
    position = {id(step): index for index, step in enumerate(reordered)}
    for index, step in enumerate(original):
        names = {operand.name for operand in reads(step)}
        for other_index, other in enumerate(original):
            if written([other]) & names:
                before = position[id(other)] < position[id(step)]
                if before != (other_index < index):
                    return False
    return True


@pytest.mark.parametrize("seed", range(8))
def test_pairing_keeps_every_dependency(seed):
    net = random_network(seed, transfers=SMOOTH)
    folded = layered_network(net)
    for what in KINDS + (("divergence",) if net.n_inputs == net.n_outputs else ()):
        program = layered_program(folded, what)
        unpaired = program.steps
        assert _in_dependency_order(unpaired, paired_products(unpaired)), what


def test_the_value_and_tangent_products_of_a_jvp_are_paired():
    folded = layered_network(_wide_network())
    program = layered_program(folded, "jvp")
    found = [tuple(step.out.name for step in program.steps[i:i + n]) for i, n in groups(program.steps)]
    assert found == [("n1", "vn1"), ("n2", "vn2")]   # the linear output layer's value is not needed
    for i, n in groups(program.steps):
        assert len({tuple(t.weights for t in step.terms) for step in program.steps[i:i + n]}) == 1


def test_a_laplacian_runs_the_value_every_tangent_and_its_own_sweep_in_one_group():
    folded = layered_network(_wide_network())
    program = layered_program(folded, "laplacian")
    found = [tuple(step.out.name for step in program.steps[i:i + n]) for i, n in groups(program.steps)]
    assert ("n2", "vn2_1", "vn2_2", "vn2_3", "ln2") in found, found


def _c_self_check(net, tmp_path, kinds):
    symnet.generate(net, ["c"], tmp_path, derivatives=kinds, name="paired", strategy="layered")
    assert_passed(c_self_check(tmp_path, "paired"))
    return (tmp_path / "paired.c").read_text()


def test_c_computes_the_pairs_in_one_loop_nest_and_passes_its_self_check(tmp_path):
    source = _c_self_check(_wide_network(), tmp_path, ["jvp", "hvp", "laplacian", "d2y1/dx1dx2", "d2y2/dx3^2"])
    jvp = source[source.index("void paired_jvp("):]
    jvp = jvp[:jvp.index("\n}\n")]
    assert jvp.count("products with the same weights") == 2


def test_pairs_in_single_point_unions_pass_the_self_check(tmp_path):
    """Wide enough that the single-point arrays share storage (SINGLE_UNIONS_FROM), narrow
    enough for a transposed copy of each weight (ONE_COPY_FROM): the pairs stay fused only
    where the second product's output does not share storage with the first's sources."""
    from symnet.emit.c.layered import ONE_COPY_FROM, SINGLE_UNIONS_FROM
    net = _wide_network(widths=(3, 1200, 40, 1200, 3), transfers=("tansig", "tansig", "softplus", "purelin"))
    assert net.parameter_count < ONE_COPY_FROM
    assert 5 * 2 * 1200 * 8 > SINGLE_UNIONS_FROM
    source = _c_self_check(net, tmp_path, ["jvp", "d2y1/dx1dx2"])
    assert "union" in source and "products with the same weights" in source
    assert np.isfinite(symnet.derive(net, "jvp")(np.zeros((1, 3)), np.ones((1, 3)))).all()
