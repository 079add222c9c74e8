"""A stiff neural ODE xdot = NN(x, u) integrated three ways:

1. SciPy's BDF and Radau with symnet's closed-form Jacobian (the NumPy target),
2. the same integrators with SciPy's finite-difference Jacobian,
3. the same network as an FMI 2.0 unit (``symnet generate --target fmu --ode N``)
   simulated by FMPy (Model Exchange, CVODE).

It prints, per run, the right-hand-side calls (those the finite differences make
included), Jacobian evaluations, wall time and the largest difference from a
reference trajectory (Radau with the exact Jacobian at tight tolerances).

Run:  python examples/neural_ode_demo.py [--states N] [--stop-time T] [--out DIR]
      (30 states: examples/neural_ode/neural_ode.json; fewer: the same construction, built here)
"""

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

import symnet

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from write_neural_ode import SEED, STATES, neural_ode  # noqa: E402  (the seeded construction, beside this file)

#: the constant input u and the tolerances of the compared runs
INPUT = 0.5
RTOL, ATOL = 1e-6, 1e-9


def load_network(n_states):
    if n_states == STATES:
        return symnet.load(HERE / "neural_ode" / "neural_ode.json")
    return neural_ode(np.random.default_rng(SEED), n_states=n_states)


def numpy_target(net, folder):
    """The value and Jacobian functions of symnet's NumPy target, imported."""
    path = symnet.generate(net, ["numpy"], folder, derivatives=("value", "jacobian"), name="neural_ode")[0]
    spec = importlib.util.spec_from_file_location("neural_ode_numpy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RightHandSide:
    """f(t, x) and its state Jacobian for SciPy, counting the calls of f."""

    def __init__(self, module, n_states):
        self.module, self.n_states, self.calls = module, n_states, 0

    def point(self, x):
        return np.append(x, INPUT)[None, :]

    def __call__(self, t, x):
        self.calls += 1
        return self.module.evaluate(self.point(x))[0]

    def jacobian(self, t, x):
        return self.module.jacobian(self.point(x))[0][:, :self.n_states]


def integrate(module, n_states, x0, times, method, exact_jacobian, rtol=RTOL, atol=ATOL):
    rhs = RightHandSide(module, n_states)
    start = time.perf_counter()
    solution = solve_ivp(rhs, (times[0], times[-1]), x0, method=method, t_eval=times, rtol=rtol, atol=atol,
                         jac=rhs.jacobian if exact_jacobian else None)
    elapsed = time.perf_counter() - start
    if not solution.success:
        raise RuntimeError(f"{method}: {solution.message}")
    return {"states": solution.y.T, "rhs_calls": rhs.calls, "jacobians": solution.njev, "seconds": elapsed}


def simulate_fmu(net, folder, x0, times):
    """The neural ODE as an FMU, simulated by FMPy (Model Exchange, CVODE)."""
    import fmpy
    path = symnet.generate(net, ["fmu"], folder, ode_states=len(x0))[0]
    names = [f"x_{k + 1}" for k in range(len(x0))]
    start = time.perf_counter()
    result = fmpy.simulate_fmu(str(path), fmi_type="ModelExchange", solver="CVode", relative_tolerance=RTOL,
                               start_values={**dict(zip(names, x0)), "u": INPUT}, stop_time=times[-1],
                               output_interval=times[1] - times[0], output=names)
    elapsed = time.perf_counter() - start
    return {"states": np.column_stack([result[name] for name in names]), "times": result["time"],
            "seconds": elapsed, "path": path}


def run(n_states=STATES, stop_time=2.0, out_dir=None):
    """Every run's numbers: {label: {states, rhs_calls, jacobians, seconds, error}}."""
    net = load_network(n_states)
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="neural_ode_"))
    module = numpy_target(net, out_dir / "numpy")
    x0 = np.linspace(1.0, -1.0, n_states)
    times = np.linspace(0.0, stop_time, 101)
    reference = integrate(module, n_states, x0, times, "Radau", True, rtol=1e-10, atol=1e-12)["states"]
    runs = {}
    for method in ("BDF", "Radau"):
        for exact in (True, False):
            label = f"{method}, {'symnet Jacobian' if exact else 'finite differences'}"
            runs[label] = integrate(module, n_states, x0, times, method, exact)
    try:
        fmu = simulate_fmu(net, out_dir / "fmu", x0, times)
    except ImportError:
        print("fmpy is not installed: the FMU run is left out (pip install fmpy)")
    else:
        fmu["reference"] = integrate(module, n_states, x0, fmu["times"], "Radau", True, rtol=1e-10,
                                     atol=1e-12)["states"]
        runs["FMU in FMPy (CVODE)"] = fmu
    for result in runs.values():
        result["error"] = float(np.max(np.abs(result["states"] - result.pop("reference", reference))))
    return runs


def report(runs, n_states):
    print(f"neural ODE, {n_states} states, u = {INPUT}, rtol {RTOL:g}, atol {ATOL:g}")
    print(f"{'run':<36} {'f calls':>8} {'Jacobians':>9} {'seconds':>8} {'max |x - x_ref|':>16}")
    for label, result in runs.items():
        calls = result.get("rhs_calls", "-")
        jacobians = result.get("jacobians", "-")
        print(f"{label:<36} {calls:>8} {jacobians:>9} {result['seconds']:>8.3f} {result['error']:>16.2e}")
    for method in ("BDF", "Radau"):
        exact, differences = runs[f"{method}, symnet Jacobian"], runs[f"{method}, finite differences"]
        gap = np.max(np.abs(exact["states"] - differences["states"]))
        print(f"{method}: trajectories with the two Jacobians differ by at most {gap:.2e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=STATES)
    parser.add_argument("--stop-time", type=float, default=2.0)
    parser.add_argument("--out", default=None, help="folder for the generated code (default: a temporary one)")
    args = parser.parse_args(argv)
    runs = run(args.states, args.stop_time, args.out)
    report(runs, args.states)
    return runs


if __name__ == "__main__":
    main()
