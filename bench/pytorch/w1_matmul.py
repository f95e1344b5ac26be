"""W1, PyTorch side: C = A @ B with torch.matmul for square fp32 matrices, A and B ~ U(-1, 1).

torch.matmul allocates C on every call (Lumen's W1_Sgemm writes into a preallocated C, as
cblas_sgemm does): at n = 64 that costs torch about a microsecond per call.
A sample repeats the call until about 0.2 GFLOP of work is done, so that small sizes are
not timer noise.
Run: /usr/bin/python3 bench/pytorch/w1_matmul.py THREADS
"""
import torch

from common import report, samples_from_env, say, setup, threads_from_argv, time_samples

threads = threads_from_argv()
setup(threads)
samples = samples_from_env(25)
for n in (64, 128, 256, 512, 1024, 2048):
    a = torch.empty(n, n).uniform_(-1, 1)
    b = torch.empty(n, n).uniform_(-1, 1)
    flop = 2.0 * n ** 3
    calls = max(1, int(2e8 / flop))
    t = time_samples(lambda: torch.matmul(a, b), warmup=3, samples=samples, calls_per_sample=calls)
    # One entry of C against a double-precision dot product: the timed call computes the right thing.
    c = torch.matmul(a, b)
    expect = float((a[0].double() * b[:, 0].double()).sum())
    if abs(float(c[0, 0]) - expect) > 1e-3 * max(1.0, abs(expect)):
        raise SystemExit(f"error: wrong C[0][0] at n = {n}")
    gflops = flop / (t["median_ms"] * 1e-3) / 1e9
    say(f"n={n:5d} median {t['median_ms']:9.4f} ms  {gflops:7.1f} GFLOP/s")
    report("W1", "W1_Sgemm", threads, t, n=n, gflops=round(gflops, 2))
