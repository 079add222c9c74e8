"""SciPy-ready callables of a network: the right-hand side of an ODE and its Jacobian in
the signatures ``scipy.integrate.solve_ivp`` calls, and a scalar objective with its
gradient and Hessian in those of ``scipy.optimize.minimize``.  Each call evaluates the
network's exact derivatives through the layered NumPy code (``symnet.derive``).

    ode = symnet.ivp_functions(net)                       # dy/dt = net(y)
    solve_ivp(ode.fun, (0, 1), y0, method="BDF", jac=ode.jac, vectorized=True)
    objective = symnet.minimize_functions(net)            # a single-output network
    minimize(objective.fun, x0, jac=objective.jac, hess=objective.hess, method="trust-constr")
"""

import numpy as np

from .api import derive
from .errors import UnsupportedError


class IvpFunctions:
    """``fun(t, y)`` and ``jac(t, y)`` of dy/dt = net(y); the network's inputs are the state
    (the time is not an input).  ``fun`` takes y of shape (n,) or, for
    ``vectorized=True``, (n, k) (one state per column) and returns the same shape;
    ``jac`` returns the (n, n) Jacobian d net / dy."""

    def __init__(self, net):
        if net.n_inputs != net.n_outputs:
            raise UnsupportedError(
                f"an ODE right-hand side needs as many outputs as inputs; {net.name!r} has "
                f"{net.n_inputs} inputs and {net.n_outputs} outputs")
        self.network = net
        self._value = derive(net, "value")
        self._jacobian = derive(net, "jacobian")

    def fun(self, t, y):
        y = np.asarray(y, dtype=float)
        if y.ndim == 1:
            return self._value(y[np.newaxis])[0]
        return self._value(y.T).T   # solve_ivp's vectorized layout: one state per column

    def jac(self, t, y):
        return self._jacobian(np.asarray(y, dtype=float).reshape(1, -1))[0]


class MinimizeFunctions:
    """``fun(x)`` (a float), ``jac(x)`` (the gradient, shape (n,)) and ``hess(x)``
    (shape (n, n)) of a single-output network, as ``scipy.optimize.minimize`` calls them."""

    def __init__(self, net):
        if net.n_outputs != 1:
            raise UnsupportedError(
                f"an objective needs a single-output network; {net.name!r} has {net.n_outputs} outputs")
        self.network = net
        self._value = derive(net, "value")
        self._gradient = derive(net, "gradient")
        self._hessian = derive(net, "hessian")

    @staticmethod
    def _point(x):
        return np.asarray(x, dtype=float).reshape(1, -1)

    def fun(self, x):
        return float(self._value(self._point(x))[0, 0])

    def jac(self, x):
        return self._gradient(self._point(x))[0]

    def hess(self, x):
        return self._hessian(self._point(x))[0, 0]


def ivp_functions(net):
    """``fun(t, y)`` and ``jac(t, y)`` for ``scipy.integrate.solve_ivp`` (see IvpFunctions)."""
    return IvpFunctions(net)


def minimize_functions(net):
    """``fun``, ``jac`` and ``hess`` for ``scipy.optimize.minimize`` (see MinimizeFunctions)."""
    return MinimizeFunctions(net)
