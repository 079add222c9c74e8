"""Generation time, peak memory and code size of symnet, each run in a fresh process."""

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_SCRIPT = """
import json, sys, time
sys.path.insert(0, {here!r})
import nets, symnet
net = nets.mlp({label!r})
start = time.perf_counter()
paths = symnet.generate(net, {targets!r}, {out!r}, derivatives={derivatives!r}, name="model",
                        strategy={strategy!r})
seconds = time.perf_counter() - start
# VmHWM: this process's own peak resident size (ru_maxrss would include the parent's before exec)
peak = [int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM')][0] / 1024.0
code = sum(p.stat().st_size for p in paths if "_check" not in p.name)
print(json.dumps(dict(seconds=seconds, peak_mib=peak, code_bytes=code, files=[p.name for p in paths])))
"""


def measure(label, targets, out, strategy="auto", derivatives=None, timeout=120):
    """dict(seconds, peak_mib, code_bytes, files) or dict(timeout=...) / dict(error=...)."""
    script = _SCRIPT.format(here=str(HERE), label=label, targets=list(targets), out=str(out),
                            derivatives=derivatives, strategy=strategy)
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])
