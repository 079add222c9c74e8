"""Imported first by the benchmark scripts, before numpy, jax or torch (which read these
variables once): every library computes on one thread, as symnet's generated C does, so that
the ratios compare like with like on a shared machine."""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
