"""W2, PyTorch side: what one tiny op costs in autograd bookkeeping.

x holds 16 floats and requires grad. The chain applies 1000 ops, y * 1.0001 and y + 0.0001 in
turn; the work per op is nothing, so the time is all dispatch, allocation and graph recording.
Three variants, each reported in microseconds per chain op:
  ForwardGraph     the chain with the graph recorded
  ForwardBackward  the chain, sum(), and backward() (all divided by 1000)
  ForwardNoGrad    the chain under no_grad: dispatch and allocation only
Run: /usr/bin/python3 bench/pytorch/w2_op_chain.py [THREADS=1]
"""
import torch

from common import report, samples_from_env, say, setup, threads_from_argv, time_samples

OPS = 1000
threads = threads_from_argv()
setup(threads)
samples = samples_from_env(30)
x = torch.randn(16, requires_grad=True)


def chain(y):
    for i in range(OPS):
        y = y * 1.0001 if i % 2 == 0 else y + 0.0001
    return y


def forward_graph():
    chain(x)


def forward_backward():
    x.grad = None
    chain(x).sum().backward()


def forward_no_grad():
    with torch.no_grad():
        chain(x)


# 500 multiplications by 1.0001: that is the gradient of the sum, for every element.
forward_backward()
if not torch.allclose(x.grad, torch.full((16,), 1.0001 ** 500)):
    raise SystemExit(f"error: wrong gradient {x.grad}")

for name, fn in (("W2_OpChain_ForwardGraph", forward_graph),
                 ("W2_OpChain_ForwardBackward", forward_backward),
                 ("W2_OpChain_ForwardNoGrad", forward_no_grad)):
    t = time_samples(fn, warmup=5, samples=samples)
    us_per_op = t["median_ms"] * 1e3 / OPS
    say(f"{name:28s} {us_per_op:6.3f} us/op")
    report("W2", name, threads, t, us_per_op=round(us_per_op, 4),
           min_us_per_op=round(t["min_ms"] * 1e3 / OPS, 4))
