"""Layered pass: products that read the same weights placed next to each other.

A directional derivative runs the value sweep and a tangent sweep (or two) through the
same layers: n = W·a + b and t = W·(f'(n)∘t_prev) read W alike.  Built sweep after sweep,
the two products are a whole sweep apart and W is read from memory twice; placed side by
side, a target may compute them in one loop nest, every weight read once for both
(symnet.emit.c.layered: ``linearpair``).  The programs' arrays are written once each, so
a step may move earlier once what it reads is computed: ``paired_products`` moves a
product's partner, and the steps the partner still waits for, to right after it.
"""

from .steps import VECTOR, Linear, reads, written


def weights_key(step):
    """What makes two products one loop nest: VECTOR arrays of the same size, the same
    weights in the same orientation, over sources of the same size; None otherwise."""
    if not isinstance(step, Linear) or step.out.axes != VECTOR or not step.terms:
        return None
    if any(term.source.axes != VECTOR for term in step.terms):
        return None
    return step.size, tuple((term.weights, term.transpose, term.source_size) for term in step.terms)


def paired_products(steps):
    """The steps in an order where every product with a partner (``weights_key``) is
    followed by it; otherwise the original order."""
    steps, placed, done = list(steps), [], set()
    pending = list(range(len(steps)))
    writers = {}   # an array may be written again in place (Symmetrize): every writer counts
    for index, step in enumerate(steps):
        for name in written([step]):
            writers.setdefault(name, []).append(index)

    def waits_for(index):
        """The pending steps ``index`` needs first, transitively, in their order."""
        needed, stack = set(), [index]
        while stack:
            reader = stack.pop()
            for operand in reads(steps[reader]):
                for source in writers.get(operand.name, ()):
                    if source < reader and source not in done and source not in needed:
                        needed.add(source)
                        stack.append(source)
        return sorted(needed)

    def place(index):
        placed.append(steps[index])
        done.add(index)
        pending.remove(index)

    while pending:
        index, partner = pending[0], None
        key = weights_key(steps[index])
        if key is not None:
            partner = next((other for other in pending[1:] if weights_key(steps[other]) == key), None)
        before = [] if partner is None else waits_for(partner)
        if index in before:
            partner, before = None, []
        for first in sorted(set(waits_for(index)) | set(before)):
            place(first)
        place(index)
        if partner is not None:
            place(partner)
    return tuple(placed)


def pairs(steps):
    """Indices i of the steps where steps[i] and steps[i + 1] are partners (``weights_key``),
    each step in one pair at most."""
    found, index = [], 0
    while index + 1 < len(steps):
        key = weights_key(steps[index])
        if key is not None and key == weights_key(steps[index + 1]) \
                and steps[index].out.name not in {operand.name for operand in reads(steps[index + 1])}:
            found.append(index)
            index += 2
        else:
            index += 1
    return found
