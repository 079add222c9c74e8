"""A user expression of the outputs and their partial derivatives (symnet.ir.user_expression),
evaluated with its gradient with respect to the raw inputs.

Each partial derivative the expression reads is a derivative of the spec
(symnet.ir.derivative_spec), evaluated by ``symnet.derive`` (layered NumPy code up to order 4,
the closed form above); the expression and its partial derivatives with respect to those
quantities are sympy's, so that the gradient and the Hessian are the chain rule

    dE/dx_k = Σ_q ∂E/∂q · ∂q/∂x_k,   ∂q/∂x_k one order higher than q,
    d²E/dx_k dx_m = Σ_q Σ_r ∂²E/∂q∂r · ∂q/∂x_k · ∂r/∂x_m + Σ_q ∂E/∂q · ∂²q/∂x_k∂x_m.

``symnet generate --expression`` writes the same derivatives as code (symnet.unrolled.expression).
"""

from functools import cached_property

import numpy as np
import sympy as sp

from .errors import ModelFormatError, UnsupportedError
from .ir.derivative_spec import DerivativeSpec
from .ir.output_map import has_output_map
from .ir.user_expression import parse_expression
from .layered.directional import layered_order
from .unrolled.size import require_unrolled_fits


class ExpressionDerivative:
    """``what`` ("value", "gradient" or "hessian") of a user expression of ``net``'s outputs.

    Calling it with X (n_samples, n_inputs) and one array per parameter, in the order given
    ((n_samples, size), or (size,) for every point), returns (n_samples,) for the value,
    (n_samples, n_inputs) for the gradient and (n_samples, n_inputs, n_inputs) for the
    Hessian with respect to the raw inputs.
    """

    def __init__(self, net, what, expression, parameters=(), allow_large_unrolled=False):
        if what not in ("value", "gradient", "hessian"):
            raise UnsupportedError(f"a user expression has a value, a gradient and a Hessian, not a {what}")
        self.network, self.what = net, what
        self.parameters = tuple((str(name), int(size)) for name, size in dict(parameters).items())
        self.user = parse_expression(expression, net, self.parameters)
        self.derivatives = {}
        self.allow_large_unrolled = allow_large_unrolled
        require_unrolled_fits(net, self.unrolled_partials, allow_large_unrolled, layered_alternative=(
            "the layered form builds no partial derivative of a network with output maps" if has_output_map(net)
            else f"the layered form builds partial derivatives up to order {layered_order(net)} of this network only"))

    @property
    def unrolled_partials(self):
        """The canonical names of the partial derivatives this derivative of the expression
        reads that only the unrolled form builds (beyond symnet.layered.directional.layered_order;
        every one of a network with output maps, whose layered form maps the whole arrays only):
        refused together, before anything is built, where their estimated size is over the limit
        (symnet.unrolled.size)."""
        highest = 0 if has_output_map(self.network) else layered_order(self.network)
        inputs = range(self.network.n_inputs)
        extra = [()] + ([(k,) for k in inputs] if self.what != "value" else [])
        extra += [(k, m) for k in inputs for m in inputs if m >= k] if self.what == "hessian" else []
        partials = ((q.output, tuple(sorted(q.inputs + more))) for q in self.user.quantities for more in extra)
        return tuple(dict.fromkeys(DerivativeSpec("partial", output, inputs).name for output, inputs in partials
                                   if len(inputs) > highest))

    @property
    def symbols(self):
        """The arguments of the sympy expression: the quantities, then every parameter element."""
        return [q.symbol for q in self.user.quantities] + [s for _, _, symbols in self.user.parameters
                                                           for s in symbols]

    @cached_property
    def _functions(self):
        expressions = [self.user.expression]
        if self.what != "value":
            expressions += [sp.diff(self.user.expression, q.symbol) for q in self.user.quantities]
        if self.what == "hessian":
            expressions += [sp.diff(self.user.expression, q.symbol, r.symbol)
                            for q in self.user.quantities for r in self.user.quantities]
        return [sp.lambdify(self.symbols, e, modules="numpy") for e in expressions]

    def _partial(self, output, inputs, X):
        """(n_samples,): output ``output`` differentiated by ``inputs`` (empty: its value)."""
        from .api import derive
        if not inputs:
            return self.network.evaluate(X)[:, output]
        spec = DerivativeSpec("partial", output, tuple(sorted(inputs)))
        if spec.name not in self.derivatives:
            self.derivatives[spec.name] = derive(self.network, spec.name, self.allow_large_unrolled)
        return self.derivatives[spec.name](X)[:, 0]

    def __call__(self, X, *parameters):
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.network.n_inputs:
            raise ModelFormatError(f"expected X of shape (n_samples, {self.network.n_inputs}), got {X.shape}")
        if len(parameters) != len(self.parameters):
            raise UnsupportedError(f"the expression {self.user.name} takes X and {len(self.parameters)} parameters"
                                   f" ({', '.join(name for name, _ in self.parameters) or 'none'}),"
                                   f" not {len(parameters)}")
        columns = [self._partial(q.output, q.inputs, X) for q in self.user.quantities]
        for (name, size), values in zip(self.parameters, parameters):
            values = np.asarray(values, dtype=float)
            try:
                values = np.broadcast_to(values.reshape(-1, size) if values.ndim == 1 and values.size != size
                                         else values, (len(X), size))
            except ValueError:
                raise ModelFormatError(f"parameter {name}: expected shape ({len(X)}, {size}) or ({size},),"
                                       f" got {values.shape}") from None
            columns += [values[:, j] for j in range(size)]
        value, *partials = [np.broadcast_to(f(*columns), (len(X),)).astype(float) for f in self._functions]
        if self.what == "value":
            return value
        count, n = len(self.user.quantities), self.network.n_inputs
        slopes, curvatures = partials[:count], partials[count:]
        first = {q: np.stack([self._partial(q.output, q.inputs + (k,), X) for k in range(n)], axis=1)
                 for q in self.user.quantities}
        if self.what == "gradient":
            return sum((slope[:, None] * first[q] for q, slope in zip(self.user.quantities, slopes)),
                       np.zeros((len(X), n)))
        hessian = np.zeros((len(X), n, n))
        for i, q in enumerate(self.user.quantities):
            for j, r in enumerate(self.user.quantities):
                hessian += curvatures[i * count + j][:, None, None] * first[q][:, :, None] * first[r][:, None, :]
            second = np.stack([np.stack([self._partial(q.output, q.inputs + (k, m), X) for m in range(n)], axis=1)
                               for k in range(n)], axis=1)
            hessian += slopes[i][:, None, None] * second
        return hessian
