"""Layered pass: products that read the same weights placed next to each other.

A directional derivative runs the value sweep and a tangent sweep (or two) through the
same layers: n = W·a + b and t = W·(f'(n)∘t_prev) read W alike.  Built sweep after sweep,
the two products are a whole sweep apart and W is read from memory twice; placed side by
side, a target may compute them in one loop nest, every weight read once for all of them
(symnet.emit.c.layered: ``fusable``).  The programs' arrays are written once each, so
a step may move earlier once what it reads is computed: ``paired_products`` moves a
product's partners, and the steps they still wait for, to right after it.
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
    """The steps in an order where every product with partners (``weights_key``) is
    followed by them; otherwise the original order."""
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
        index, partners, before = pending[0], [], set()
        key = weights_key(steps[index])
        for other in pending[1:] if key is not None else ():
            if weights_key(steps[other]) != key or other in before:
                continue
            waiting = set(waits_for(other))
            if index in waiting or waiting & set(partners):
                continue
            partners.append(other)
            before |= waiting
        for first in sorted(set(waits_for(index)) | before):
            place(first)
        for step in [index] + partners:
            place(step)
    return tuple(placed)


def groups(steps):
    """(start, count) of each run of two or more steps that are partners (``weights_key``),
    none reading another's output."""
    found, index = [], 0
    while index < len(steps):
        key, end, outs = weights_key(steps[index]), index + 1, {steps[index].out.name}
        while key is not None and end < len(steps) and weights_key(steps[end]) == key \
                and not outs & {operand.name for operand in reads(steps[end])}:
            outs.add(steps[end].out.name)
            end += 1
        if end - index > 1:
            found.append((index, end - index))
        index = end
    return found
