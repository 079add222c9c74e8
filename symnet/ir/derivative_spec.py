"""What a user may ask to have differentiated: the derivative spec grammar.

A spec is a comma-separated list of names (``--derivatives``, ``symnet.derive``,
``symnet.generate``):

* ``value``, ``gradient``, ``jacobian``, ``hessian``: the whole arrays;
* ``jvp``: J·v, ``v`` an extra argument of n_inputs numbers;
* ``vjp``: wᵀ·J, ``w`` an extra argument of n_outputs numbers;
* ``hvp``: H_i·v for every output i (v as for ``jvp``);
* ``laplacian``: Σ_k ∂²y_i/∂x_k² for every output i;
* ``divergence``: Σ_k ∂y_k/∂x_k (networks with as many outputs as inputs);
* a named partial derivative ``d2y1/dx1dx2``, ``d3y/dx1^2dx3``, ``dy2/dx1``: outputs and
  inputs by the model's names where every input and output is one number with a name that
  is an identifier, and always as y1.., x1.. (1-based); ``y`` alone for a single output.

Every spec has a canonical name, an identifier (``jvp``, ``d2y1_dx1_dx2``), that the
later stages use as the derivative's key and in function names.
"""

import re
from dataclasses import dataclass

from ..errors import UnsupportedError

#: The whole arrays, in the order in which generated files list them.
WHOLE = ("value", "gradient", "jacobian", "hessian")
#: Derivatives along given directions or reduced over the inputs, in the order of generated files.
REDUCED = ("jvp", "vjp", "hvp", "laplacian", "divergence")
#: Every name of the grammar but the named partials.
NAMES = WHOLE + REDUCED
#: The kinds of derivative beyond the whole arrays (a Backend's ``directional``).
BEYOND_WHOLE = REDUCED + ("partial",)
#: What each extra argument holds: (name, "inputs" or "outputs"); a user expression's
#: parameters (symnet.ir.expression_spec) hold a number of values instead.
EXTRA_ARGUMENTS = {"jvp": (("v", "inputs"),), "vjp": (("w", "outputs"),), "hvp": (("v", "inputs"),)}

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CANONICAL_PARTIAL = re.compile(r"d(\d+)y(\d+)_((?:dx\d+_?)+)\Z")


@dataclass(frozen=True)
class DerivativeSpec:
    """One derivative: ``kind`` is one of NAMES or "partial"; a partial has ``output`` (0-based
    row) and ``inputs`` (0-based, one per differentiation, ascending)."""

    kind: str
    output: int = 0
    inputs: tuple = ()

    @property
    def name(self):
        """The canonical name: an identifier, also the key of the derivative everywhere."""
        if self.kind != "partial":
            return self.kind
        return f"d{self.order}y{self.output + 1}_" + "_".join(f"dx{k + 1}" for k in self.inputs)

    @property
    def order(self):
        return len(self.inputs) if self.kind == "partial" else {"value": 0, "gradient": 1, "jacobian": 1,
                                                                 "jvp": 1, "vjp": 1, "divergence": 1}.get(self.kind, 2)

    @property
    def extra_arguments(self):
        """((name, "inputs" or "outputs"), ...): the arguments after x."""
        return EXTRA_ARGUMENTS.get(self.kind, ())

    def shape(self, n_inputs, n_outputs):
        """The derivative's shape at one point."""
        return {"value": (n_outputs,), "gradient": (n_inputs,), "jacobian": (n_outputs, n_inputs),
                "hessian": (n_outputs, n_inputs, n_inputs), "jvp": (n_outputs,), "vjp": (n_inputs,),
                "hvp": (n_outputs, n_inputs), "laplacian": (n_outputs,)}.get(self.kind, (1,))

    def formula(self):
        """The derivative in ASCII symbols, for documentation comments (1-based names)."""
        if self.kind == "partial":
            return f"d{self.order}y{self.output + 1}/" + "".join(f"dx{k + 1}" for k in self.inputs)
        return {"value": "y", "gradient": "dy/dx", "jacobian": "dy_i/dx_k", "hessian": "d2y_i/dx_k dx_m",
                "jvp": "J*v = sum_k dy_i/dx_k v_k", "vjp": "w^T*J = sum_i w_i dy_i/dx_k",
                "hvp": "H_i*v = sum_m d2y_i/dx_k dx_m v_m", "laplacian": "sum_k d2y_i/dx_k^2",
                "divergence": "sum_k dy_k/dx_k"}[self.kind]


def argument_count(size, n_inputs, n_outputs):
    """How many numbers an extra argument holds at one point: its size as EXTRA_ARGUMENTS
    states it ("inputs", "outputs") or a parameter's own count."""
    return {"inputs": n_inputs, "outputs": n_outputs}.get(size, size)


def spec_of(name):
    """The DerivativeSpec of a canonical name (``DerivativeSpec.name``), or the ExpressionSpec
    that a user expression's name carries (symnet.ir.expression_spec)."""
    carried = getattr(name, "spec", None)
    if carried is not None:
        return carried
    if name in NAMES:
        return DerivativeSpec(name)
    match = _CANONICAL_PARTIAL.match(str(name))
    if match is None:
        raise UnsupportedError(f"unknown derivative {name!r} ({_CHOICES})")
    inputs = tuple(int(k) - 1 for k in re.findall(r"dx(\d+)", match.group(3)))
    return DerivativeSpec("partial", int(match.group(2)) - 1, inputs)


_CHOICES = ("choose from " + ", ".join(NAMES) + ", or a partial derivative such as d2y1/dx1dx2")


def parse_derivatives(text, net):
    """The canonical names of a comma-separated spec (or a sequence of names) for ``net``,
    each checked against the network; duplicates once."""
    items = [item.strip() for item in text.split(",")] if isinstance(text, str) else [str(i).strip() for i in text]
    items = [item for item in items if item]
    if not items:
        raise UnsupportedError(f"no derivative named in {text!r} ({_CHOICES})")
    return tuple(dict.fromkeys(parse_derivative(item, net).name for item in items))


def parse_derivative(text, net):
    """The DerivativeSpec of one name of the grammar for ``net``; a one-line UnsupportedError
    naming the item and its problem otherwise."""
    text = str(text).strip()
    if text in NAMES:
        spec = DerivativeSpec(text)
    elif text.startswith("d") and "/" in text:
        spec = _parse_partial(text, net)
    else:
        try:
            spec = spec_of(text)
        except UnsupportedError:
            raise UnsupportedError(f"unknown derivative {text!r} ({_CHOICES})") from None
    check_spec(spec, net, text)
    return spec


def check_spec(spec, net, text=None):
    """Refuse a spec the network cannot have (UnsupportedError, one line)."""
    text = spec.name if text is None else text
    n_in, n_out = net.n_inputs, net.n_outputs
    if spec.kind == "gradient" and n_out != 1:
        raise UnsupportedError(f"the gradient needs a single-output network; this one has {n_out} outputs"
                               " (use the jacobian)")
    if spec.kind == "divergence" and n_out != n_in:
        raise UnsupportedError(f"the divergence needs as many outputs as inputs; this network has {n_out}"
                               f" outputs and {n_in} inputs")
    if spec.kind == "partial":
        if not 0 <= spec.output < n_out:
            raise UnsupportedError(f"derivative {text!r}: output y{spec.output + 1} is out of range"
                                   f" (the network has {n_out} outputs)")
        for k in spec.inputs:
            if not 0 <= k < n_in:
                raise UnsupportedError(f"derivative {text!r}: input x{k + 1} is out of range"
                                       f" (the network has {n_in} inputs)")


def scalar_names(blocks, count, prefix):
    """{name: index} of the scalar inputs or outputs: y1.. (x1..) always, the model's own names
    where every block is one number named by an identifier, and ``y`` alone for one output."""
    names = {f"{prefix}{i + 1}": i for i in range(count)}
    if count == 1 and prefix == "y":
        names["y"] = 0
    own = [block.name for block in blocks]
    if len(own) == count and len(set(own)) == count and all(_IDENTIFIER.match(n or "") for n in own):
        for i, name in enumerate(own):
            names.setdefault(name, i)
    return names


def _parse_partial(text, net):
    """``d<order><output>/d<input>[^p]d<input>[^p]...``; the order may be left out for 1."""
    numerator, _, denominator = text.partition("/")
    outputs = scalar_names(net.outputs, net.n_outputs, "y")
    inputs = scalar_names(net.inputs, net.n_inputs, "x")
    match = re.fullmatch(r"d(\d*)(.+)", numerator)
    if match is None or match.group(2) not in outputs:
        raise UnsupportedError(f"derivative {text!r}: unknown output {numerator[1:].lstrip('0123456789')!r}"
                               f" (the outputs are {', '.join(outputs)})")
    order = int(match.group(1)) if match.group(1) else 1
    if order == 0:
        raise UnsupportedError(f"derivative {text!r}: order 0 (a partial derivative has order 1 or more;"
                               " use value)")
    factors = _denominator(text, denominator, inputs)
    if len(factors) != order:
        raise UnsupportedError(f"derivative {text!r}: the order {order} does not match the {len(factors)}"
                               " differentiations after the slash")
    return DerivativeSpec("partial", outputs[match.group(2)], tuple(sorted(factors)))


def _denominator(text, denominator, inputs):
    """The 0-based input of every differentiation of ``dx1^2dx3`` (x1, x1, x3)."""
    by_length = sorted(inputs, key=len, reverse=True)
    factors, rest = [], denominator
    while rest:
        name = next((n for n in by_length if rest.startswith("d" + n)), None)
        if name is None:
            raise UnsupportedError(f"derivative {text!r}: unknown input at {rest!r}"
                                   f" (the inputs are {', '.join(inputs)})")
        rest = rest[1 + len(name):]
        power = re.match(r"\^(\d+)", rest)
        count = 1
        if power:
            count, rest = int(power.group(1)), rest[power.end():]
            if count == 0:
                raise UnsupportedError(f"derivative {text!r}: order 0 for input {name}")
        factors += [inputs[name]] * count
    if not factors:
        raise UnsupportedError(f"derivative {text!r}: no input after the slash")
    return factors
