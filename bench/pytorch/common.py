"""Shared by the PyTorch side of the benchmarks (run them with /usr/bin/python3, which has torch).

Each program times one workload the way bench/lumen_bench does and prints one line per
configuration, `RESULT {json}`, which bench/compare.py reads. Anything else it prints is for
people and goes to stderr, so stdout stays machine-readable.
"""
import ctypes
import json
import os
import statistics
import sys
import time

import torch

# Debian's torch calls OpenBLAS (through libblas.so.3) for matmul and Linear, and torch 1.13
# does not pass its own thread count on to it: without this, a "1-thread" run would still do
# its GEMMs on 2 threads.
_openblas = ctypes.CDLL("libopenblas.so.0")
_openblas.openblas_get_corename.restype = ctypes.c_char_p


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def setup(threads, seed=0):
    """`threads` intra-op threads for torch and for the OpenBLAS it calls; a fixed seed."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    _openblas.openblas_set_num_threads(threads)


def environment():
    """What decides the speed besides the code: recorded in every RESULT line."""
    return {
        "torch_threads": torch.get_num_threads(),
        "openblas_threads": _openblas.openblas_get_num_threads(),
        "openblas_core": _openblas.openblas_get_corename().decode(),
        "malloc": "notrim" if "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", "") else "default",
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
    }


def time_samples(fn, warmup, samples, calls_per_sample=1):
    """Runs fn `warmup` times, then times `samples` samples of `calls_per_sample` calls each.
    Returns the median and the fastest sample, in milliseconds per call."""
    for _ in range(warmup * calls_per_sample):
        fn()
    per_call = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(calls_per_sample):
            fn()
        per_call.append((time.perf_counter() - start) / calls_per_sample)
    return {"median_ms": statistics.median(per_call) * 1e3, "min_ms": min(per_call) * 1e3,
            "samples": samples, "calls_per_sample": calls_per_sample}


def check_loss_falls(step, steps):
    """The warm-up of a training benchmark: `steps` real steps whose loss must go down, so the
    timed step is known to train. Exits with an error (and no RESULT) if it does not."""
    losses = [step() for _ in range(steps)]
    say(f"loss over {steps} warm-up steps: {losses[0]:.4f} -> {losses[-1]:.4f}")
    if not losses[-1] < losses[0]:
        sys.exit(f"error: the loss did not fall over the warm-up ({losses[0]} -> {losses[-1]})")
    return losses[0], losses[-1]


def report(workload, name, threads, timing, **extra):
    """One RESULT line: `name` is the matching lumen_bench benchmark's name without arguments."""
    line = {"workload": workload, "name": name, "impl": "pytorch", "threads": threads,
            **timing, **extra, **environment()}
    print("RESULT " + json.dumps(line), flush=True)


def threads_from_argv(default=1):
    return int(sys.argv[1]) if len(sys.argv) > 1 else default


def samples_from_env(default):
    """BENCH_SAMPLES overrides the number of timed samples (compare.py --quick uses it)."""
    return int(os.environ.get("BENCH_SAMPLES", default))
