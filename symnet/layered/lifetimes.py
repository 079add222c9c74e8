"""Layered pass: when each array of a layered program is first written and last read.

The C backend keeps arrays whose lifetimes do not overlap in one union
(symnet.layered.memory); the NumPy backend deletes each array right after its last
read, so that the next one reuses its memory.
"""

from .steps import reads, written


def lifetimes(program, split=None):
    """{array: [first step writing it, last step reading it]} in order of creation; with
    ``split`` (axis, count, first step: symnet.layered.memory), an array written before
    the split loop and read inside it lives to the end."""
    spans = {}
    for index, step in enumerate(program.steps):
        for operand in reads(step):
            if operand.name in spans:
                spans[operand.name][1] = index
        for name in written([step]):
            spans.setdefault(name, [index, index])
    if split:
        for span in spans.values():
            if span[0] < split[2] <= span[1]:
                span[1] = len(program.steps)
    return {operand.name: spans[operand.name] for operand, _ in program.arrays if operand.name in spans}


def last_reads(program):
    """{step index: names of the arrays that step reads last}: every array read, the
    inputs too, but neither constants nor the result."""
    last = {}
    for index, step in enumerate(program.steps):
        for operand in reads(step):
            if not operand.constant and operand.name != program.result.name:
                last[operand.name] = index
    by_step = {}
    for name, index in last.items():
        by_step.setdefault(index, []).append(name)
    return by_step
