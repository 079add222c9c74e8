"""Layered pass: memory planning.  Where a layered function keeps its arrays when they
are fixed-size buffers (the C backend's stack): arrays whose lifetimes
(symnet.layered.lifetimes) do not overlap share storage, and the steps that work along
one leading axis may run inside one loop over it, so that their arrays hold one value
of that axis at a time.
"""

import dataclasses
import functools
from typing import Optional

import numpy as np

from .lifetimes import lifetimes
from .steps import Elementwise, Gather, Linear, OuterSum, Reduction, Scale, SecondOrder, Symmetrize, reads

#: The steps that may run inside the loop over a split axis.
SPLIT_STEPS = (Linear, Scale, Reduction, SecondOrder, OuterSum, Symmetrize)


@dataclasses.dataclass(frozen=True)
class ArrayLayout:
    """Where a layered function keeps its arrays: the batch kernel's block, or a large
    single-point function's.

    ``split``: (axis, count, first step) when every step from ``first`` on works along
    one leading axis (the adjoints of every output row in reverse mode and, in a Hessian,
    their tangents; the tangents of every input column in forward mode).  Those steps
    then run inside one loop over that axis, and their arrays hold a single value of
    it: the block is that many times smaller.
    ``unions``: arrays whose lifetimes do not overlap share one C union, one group
    of (name, per-point dims) each; a group of one is a plain array."""
    split: Optional[tuple]
    unions: tuple

    @classmethod
    def plain(cls, program):
        return cls(None, tuple(((operand.name, tuple(shape)),) for operand, shape in program.arrays
                               if operand.name != program.result.name))

    @classmethod
    def compact(cls, program, split=True):
        split = split_axis(program) if split else None
        dims = {operand.name: tuple(shape[1:] if split and operand.axes[:1] == (split[0],) else shape)
                for operand, shape in program.arrays}
        groups = []   # [last step reading a member, size, [(name, dims)...]]
        for name, (start, end) in lifetimes(program, split).items():
            if name == program.result.name:
                continue
            size = int(np.prod(dims[name]))
            free = [group for group in groups if group[0] < start]
            fitting = [group for group in free if group[1] >= size]
            if fitting:
                group = min(fitting, key=lambda g: g[1])
            elif free:
                group = max(free, key=lambda g: g[1])
            else:
                group = [end, size, []]
                groups.append(group)
            group[0], group[1] = end, max(group[1], size)
            group[2].append((name, dims[name]))
        return cls(split, tuple(tuple(members) for _, _, members in groups))

    def splits(self, operand):
        return bool(self.split) and operand.axes[:1] == (self.split[0],)

    def kept(self, operand, items):
        """``items`` (one per axis of ``operand``) without the split axis' (its loop encloses the step)."""
        return items[1:] if self.splits(operand) else items

    @functools.cached_property
    def union_names(self):
        """The C name of each group: work0, work1, ... for unions, None for plain arrays."""
        shared = [members for members in self.unions if len(members) > 1]
        return [f"work{shared.index(members)}" if len(members) > 1 else None for members in self.unions]

    @functools.cached_property
    def _storage(self):
        return {name: f"{union}.{name}" for union, members in zip(self.union_names, self.unions) if union
                for name, _ in members}

    def storage_name(self, name):
        return self._storage.get(name, name)

    def doubles(self):
        """Numbers per point in the arrays (the result and the inputs not counted)."""
        return sum(max(int(np.prod(dims)) for _, dims in members) for members in self.unions)


def split_axis(program):
    """(axis, count, first step) for ArrayLayout.split, or None.  From the first step whose
    output leads with the axis on, every step must be a product, scaling, reduction (a
    whole layer's tangent or adjoint), second-order step or symmetrization along it (the
    adjoints of reverse mode and, in a Hessian, their
    tangents; the tangents of forward mode); the last may be the transposed gather of
    forward mode's Jacobian (one input column of the result per tangent).  What they
    read leads with the axis or lacks it (computed before the loop: a Hessian's forward
    tangents).  The leading axes are tried in the order they first appear."""
    steps = program.steps
    axes = [step.out.axes[0] for step in steps if not isinstance(step, Elementwise) and step.out.axes]
    for axis in dict.fromkeys(axes):
        first = next(i for i, step in enumerate(steps) if step.out.axes[:1] == (axis,))
        if _splits_from(program, axis, first):
            count = dict((operand.name, shape) for operand, shape in program.arrays)[steps[first].out.name][0]
            return axis, count, first
    return None


def _splits_from(program, axis, first):
    steps = program.steps
    if any(axis in step.out.axes for step in steps[:first]):
        return False
    for index, step in enumerate(steps[first:], first):
        last_gather = (isinstance(step, Gather) and step.transposed and index == len(steps) - 1
                       and step.out.name == program.result.name)
        if not (last_gather or isinstance(step, SPLIT_STEPS) and step.out.axes[:1] == (axis,)):
            return False
        if any(axis in operand.axes[1:] for operand in reads(step)):
            return False
    return True


def compact_layouts(program):
    """(the batch kernel's layout, a large single-point function's): a Jacobian's batch
    kernel splits where it can and its single-point function does not (the loop would
    undo the single-point tiles over output rows); a Hessian's tiles run over input
    columns inside the loop, and both its functions take the smaller of the layouts with
    and without it (the loop over output rows keeps the forward tangents live through
    it, which costs more than it saves with few outputs); a Hessian as outer products
    (OuterSum) keeps its single-point arrays whole."""
    split, whole = ArrayLayout.compact(program), ArrayLayout.compact(program, split=False)
    if program.what != "hessian":
        return split, whole
    smaller = split if split.doubles() < whole.doubles() else whole
    if any(isinstance(step, OuterSum) for step in program.steps):
        # its arrays hold no input axis: whole, they cost little, and the adjoints' products
        # tile over the output rows, the outer products transpose each tangent once
        return smaller, whole
    return smaller, smaller
