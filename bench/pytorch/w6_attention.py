"""W6, PyTorch side: the causal attention core on its own.

q, k, v ~ N(0, 1), each [8, 4, 256, 64] (batch, heads, sequence, head dim), requiring grad;
out = softmax(masked_fill(q k^T / 8, causal, -inf)) @ v.
  Forward          the forward with the graph recorded
  ForwardBackward  the forward, then out.backward(g) for a fixed random g
Run: /usr/bin/python3 bench/pytorch/w6_attention.py THREADS
"""
import math

import torch
import torch.nn.functional as F

from common import report, samples_from_env, say, setup, threads_from_argv, time_samples

BATCH, HEADS, SEQ, HEAD_DIM = 8, 4, 256, 64
threads = threads_from_argv()
setup(threads)
q, k, v = (torch.randn(BATCH, HEADS, SEQ, HEAD_DIM, requires_grad=True) for _ in range(3))
g = torch.randn(BATCH, HEADS, SEQ, HEAD_DIM)
causal = torch.triu(torch.ones(SEQ, SEQ, dtype=torch.bool), 1)


def attention():
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(HEAD_DIM)
    return F.softmax(scores.masked_fill(causal, float("-inf")), dim=-1) @ v


def forward_backward():
    q.grad = k.grad = v.grad = None
    attention().backward(g)


# Position 0 sees only key 0, so its output is v's row 0: a check that the mask is applied.
if not torch.allclose(attention()[:, :, 0], v[:, :, 0]):
    raise SystemExit("error: row 0 of the output is not v's row 0")
samples = samples_from_env(30)
for name, fn in (("W6_CausalAttention_Forward", attention),
                 ("W6_CausalAttention_ForwardBackward", forward_backward)):
    t = time_samples(fn, warmup=5, samples=samples)
    say(f"{name:36s} threads={threads} median {t['median_ms']:.3f} ms")
    report("W6", name, threads, t)
