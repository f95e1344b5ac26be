"""W5, PyTorch side: one training step of a small decoder-only transformer (GPT).

small: seq 64, d_model 128, 4 heads (head dim 32), 2 blocks, FFN 512; 421,697 parameters.
large: seq 256, d_model 256, 4 heads (head dim 64), 4 blocks, FFN 1024; 3,258,433 parameters.
Both: vocabulary 65, batch 16, learned token and position embeddings, pre-LN blocks
  x = x + proj(attention(LN1(x)));  x = x + fc2(gelu(fc1(LN2(x))))     (GELU with erf)
then a final LayerNorm and an untied Linear(d, 65) head; every Linear has a bias; no dropout.
Attention is written out: one Linear(d, 3d) for q, k, v; q k^T / sqrt(head dim); causal mask
by masked_fill(-inf); softmax; @ v; Linear(d, d). Loss: mean cross-entropy over all 16 x T
positions. AdamW, lr 3e-4, weight decay 0.01.
Data: 16 fixed batches of x_t = (x_{t-1} + x_{t-2}) mod 65 from random starts; the target is
the next token.
Warm-up: CHECK_STEPS steps whose loss must fall (default 50), 3 more, then the timed steps
(default 30 for small, 20 for large).
Run: /usr/bin/python3 bench/pytorch/w5_gpt.py THREADS small|large [CHECK_STEPS]
"""
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

from common import check_loss_falls, report, samples_from_env, say, setup, threads_from_argv, time_samples

threads = threads_from_argv()
size = sys.argv[2] if len(sys.argv) > 2 else "small"
CONFIGS = {"small": dict(seq=64, d=128, heads=4, blocks=2, ffn=512, samples=30),
           "large": dict(seq=256, d=256, heads=4, blocks=4, ffn=1024, samples=20)}
if size not in CONFIGS:
    raise SystemExit(f"error: unknown size {size!r} (small or large)")
cfg = CONFIGS[size]
SEQ, D, HEADS, BLOCKS, FFN = cfg["seq"], cfg["d"], cfg["heads"], cfg["blocks"], cfg["ffn"]
VOCAB, BATCH, BATCHES = 65, 16, 16
HEAD_DIM = D // HEADS
setup(threads)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.ln2 = nn.LayerNorm(D)
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)
        self.fc1 = nn.Linear(D, FFN)
        self.fc2 = nn.Linear(FFN, D)

    def attention(self, x, causal):
        b, t, _ = x.shape
        # [B, T, 3D] -> three [B, HEADS, T, HEAD_DIM]
        q, k, v = (z.view(b, t, HEADS, HEAD_DIM).transpose(1, 2) for z in self.qkv(x).split(D, dim=2))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(HEAD_DIM)          # [B, HEADS, T, T]
        weights = F.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(b, t, D))

    def forward(self, x, causal):
        x = x + self.attention(self.ln1(x), causal)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.token_embed = nn.Embedding(VOCAB, D)
        self.position_embed = nn.Embedding(SEQ, D)
        self.blocks = nn.ModuleList(Block() for _ in range(BLOCKS))
        self.ln_f = nn.LayerNorm(D)
        self.head = nn.Linear(D, VOCAB)
        # True above the diagonal: position t may not look at later positions.
        self.register_buffer("causal", torch.triu(torch.ones(SEQ, SEQ, dtype=torch.bool), 1))

    def forward(self, ids):                      # [B, T] -> logits [B, T, VOCAB]
        x = self.token_embed(ids) + self.position_embed(torch.arange(SEQ))
        for block in self.blocks:
            x = block(x, self.causal)
        return self.head(self.ln_f(x))


def fibonacci_batch():
    seq = torch.zeros(BATCH, SEQ + 1, dtype=torch.long)
    seq[:, :2] = torch.randint(0, VOCAB, (BATCH, 2))
    for t in range(2, SEQ + 1):
        seq[:, t] = (seq[:, t - 1] + seq[:, t - 2]) % VOCAB
    return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()


model = GPT()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
data = [fibonacci_batch() for _ in range(BATCHES)]
step_count = 0


def train_step():
    global step_count
    ids, next_ids = data[step_count % BATCHES]
    step_count += 1
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(ids).reshape(-1, VOCAB), next_ids.reshape(-1))
    loss.backward()
    optimizer.step()
    return loss.item()


params = sum(p.numel() for p in model.parameters())
check_steps = int(sys.argv[3]) if len(sys.argv) > 3 else 50
first, last = check_loss_falls(train_step, check_steps)
t = time_samples(train_step, warmup=3, samples=samples_from_env(cfg["samples"]))
tokens_per_s = BATCH * SEQ / (t["median_ms"] * 1e-3)
say(f"{size} threads={threads} median {t['median_ms']:.2f} ms/step, {tokens_per_s:,.0f} tokens/s "
    f"({params:,} parameters)")
name = "W5_GptSmallTrainStep" if size == "small" else "W5_GptLargeTrainStep"
report("W5", name, threads, t, params=params, check_steps=check_steps, tokens_per_s=round(tokens_per_s),
       loss_first=round(first, 4), loss_last=round(last, 4))
