"""Tables (markdown) and the plot of a benchmark run."""

REFERENCE = "hand C -O3 native"


def ns(value):
    if value is None:
        return "–"
    if value >= 1e6:
        return f"{value / 1e6:.2f} ms"
    if value >= 1e3:
        return f"{value / 1e3:.2f} µs"
    return f"{value:.0f} ns"


def _ratio(value, reference):
    return "–" if value is None or not reference else f"{value / reference:.2f}×"


def timing_table(net):
    rows = {row["backend"]: row for row in net["rows"]}
    reference = rows.get(REFERENCE, {})
    lines = [f"**{net['net']}** ({net['parameters']} parameters)", "",
             "| backend | one point | ratio to hand C | batch of 10,000, per point | ratio to hand C | max error |",
             "|---|---|---|---|---|---|"]
    for row in net["rows"]:
        if row.get("wrong"):
            lines.append(f"| {row['backend']} | wrong | | | | {row['error']:.1e} |")
            continue
        lines.append(f"| {row['backend']} | {ns(row.get('single_ns'))} |"
                     f" {_ratio(row.get('single_ns'), reference.get('single_ns'))} |"
                     f" {ns(row.get('batch_ns'))} | {_ratio(row.get('batch_ns'), reference.get('batch_ns'))} |"
                     f" {row['error']:.1e} |")
    return "\n".join(lines)


def generation_table(results):
    lines = ["| net | targets | time | limit | peak memory | generated code |", "|---|---|---|---|---|---|"]
    for label, rows in results["generation"].items():
        for row in rows:
            if "seconds" in row:
                lines.append(f"| {label} | {row['targets']} | {row['seconds']:.1f} s | {row['limit_s']} s |"
                             f" {row['peak_mib']:.0f} MiB | {row['code_bytes'] / 1024:.0f} KiB |")
            else:
                problem = f"> {row['timeout']} s (stopped)" if "timeout" in row else f"failed: {row['error']}"
                lines.append(f"| {label} | {row['targets']} | {problem} | {row['limit_s']} s | | |")
    return "\n".join(lines)


def markdown(results):
    parts = [f"Machine: {results['machine']}", ""]
    for net in results["nets"]:
        parts += [timing_table(net), ""]
    if results["generation"]:
        parts += ["Generation (one fresh process each; peak memory is the process's maximum resident size):", "",
                  generation_table(results), ""]
    hessian = results.get("hessian")
    if hessian:
        parts += [f"Hessian of 5-20-20-3 in C: generated (with the Jacobian) in {hessian['generate_s']:.1f} s;"
                  f" one Hessian {ns(hessian['hessian_ns'])}, one Jacobian {ns(hessian['jacobian_ns'])}:"
                  f" {hessian['ratio']:.2f}× the Jacobian's time × n_inputs ({hessian['n_inputs']}).", ""]
    return "\n".join(parts)


PLOTTED = ("hand C -O3 native", "symnet C layered O3native", "symnet C unrolled O3native",
           "CasADi SX C -O3 native", "CasADi MX C -O3 native", "jax.jit(jacrev)", "torch.func.jacrev",
           "symnet NumPy layered")


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
        return
    labels = [net["net"] for net in results["nets"]]
    figure, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=False)
    for axis, key, title in ((axes[0], "single_ns", "one point per call"),
                             (axes[1], "batch_ns", "batch of 10,000 points, per point")):
        width = 0.8 / len(PLOTTED)
        for k, backend in enumerate(PLOTTED):
            values = []
            for net in results["nets"]:
                row = next((r for r in net["rows"] if r["backend"] == backend and not r.get("wrong")), {})
                values.append(row.get(key) or 0.0)
            if any(values):
                axis.bar([i + (k - len(PLOTTED) / 2) * width for i in range(len(labels))], values, width,
                         label=backend)
        axis.set_yscale("log")
        axis.set_xticks(range(len(labels)), labels)
        axis.set_ylabel("ns per Jacobian")
        axis.set_title(title)
        axis.grid(axis="y", which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    figure.suptitle("Full Jacobian dy/dx of tanh MLPs with mapminmax (double precision, one thread)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
