"""W4, PyTorch side: one teacher-forced training step of a Bahdanau-attention seq2seq model.

Task: copy the source reversed. Vocabulary 40 (source and target; token 0 is BOS), embedding
64, batch 32, source length 20, target length 12 (the first 12 tokens of the reversed source).
Encoder: a bidirectional GRU, 128 per direction. Variant `cell` (the one Lumen's
W4_BahdanauTrainStep mirrors) runs two nn.GRUCell over time, one each way; variant `fused`
calls one nn.GRU(bidirectional=True) instead (same maths, PyTorch's fused kernel).
Decoder, per target step, with s the previous decoder state and h_j the 256-d encoder states:
  e_j = v . tanh(W_s s + W_h h_j)     attention dim 128; W_h h_j computed once per sequence
  a = softmax_j(e);  c = sum_j a_j h_j
  s = GRUCell([embed(y_prev); c], s)  64 + 256 -> 128
  logits = W_out [s; c]               384 -> 40
with s0 = tanh(W_init [h_fwd(last); h_bwd(first)]); W_s, W_init and W_out have a bias, W_h and
v none. Loss: mean cross-entropy over the 32 x 12 target tokens. Adam, lr 1e-3.
424,616 parameters. 50 steps whose loss must fall, 3 more, then 30 timed steps.
Run: /usr/bin/python3 bench/pytorch/w4_bahdanau.py THREADS [cell|fused]
"""
import sys

import torch
import torch.nn.functional as F
from torch import nn

from common import check_loss_falls, report, samples_from_env, say, setup, threads_from_argv, time_samples

VOCAB, EMB, HID, ATT, SRC_LEN, TGT_LEN, BATCH, BOS, BATCHES = 40, 64, 128, 128, 20, 12, 32, 0, 16
threads = threads_from_argv()
variant = sys.argv[2] if len(sys.argv) > 2 else "cell"
if variant not in ("cell", "fused"):
    raise SystemExit(f"error: unknown variant {variant!r} (cell or fused)")
setup(threads)


class BiGruEncoder(nn.Module):
    """Source ids [B, S] -> states [B, S, 2*HID]: forward and backward states side by side."""

    def __init__(self, fused):
        super().__init__()
        self.fused = fused
        self.embed = nn.Embedding(VOCAB, EMB)
        if fused:
            self.gru = nn.GRU(EMB, HID, batch_first=True, bidirectional=True)
        else:
            self.forward_cell = nn.GRUCell(EMB, HID)
            self.backward_cell = nn.GRUCell(EMB, HID)

    def forward(self, src):
        x = self.embed(src)                              # [B, S, EMB]
        if self.fused:
            return self.gru(x)[0]
        h = x.new_zeros(BATCH, HID)
        ahead = []
        for t in range(SRC_LEN):
            h = self.forward_cell(x[:, t], h)
            ahead.append(h)
        h = x.new_zeros(BATCH, HID)
        behind = [None] * SRC_LEN
        for t in reversed(range(SRC_LEN)):
            h = self.backward_cell(x[:, t], h)
            behind[t] = h
        return torch.cat([torch.stack(ahead, 1), torch.stack(behind, 1)], 2)


class Bahdanau(nn.Module):
    def __init__(self, fused):
        super().__init__()
        self.encoder = BiGruEncoder(fused)
        self.target_embed = nn.Embedding(VOCAB, EMB)
        self.W_init = nn.Linear(2 * HID, HID)
        self.W_h = nn.Linear(2 * HID, ATT, bias=False)
        self.W_s = nn.Linear(HID, ATT)
        self.v = nn.Linear(ATT, 1, bias=False)
        self.decoder_cell = nn.GRUCell(EMB + 2 * HID, HID)
        self.W_out = nn.Linear(HID + 2 * HID, VOCAB)

    def forward(self, src, tgt_in):                      # -> logits [B, T, VOCAB]
        h = self.encoder(src)                            # [B, S, 2H]
        s = torch.tanh(self.W_init(torch.cat([h[:, -1, :HID], h[:, 0, HID:]], 1)))
        keys = self.W_h(h)                               # [B, S, ATT], once per sequence
        y = self.target_embed(tgt_in)                    # [B, T, EMB]
        logits = []
        for t in range(TGT_LEN):
            e = self.v(torch.tanh(keys + self.W_s(s).unsqueeze(1))).squeeze(2)  # [B, S]
            a = F.softmax(e, dim=1)
            c = torch.bmm(a.unsqueeze(1), h).squeeze(1)  # [B, 2H]
            s = self.decoder_cell(torch.cat([y[:, t], c], 1), s)
            logits.append(self.W_out(torch.cat([s, c], 1)))
        return torch.stack(logits, 1)


model = Bahdanau(fused=(variant == "fused"))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
sources = [torch.randint(1, VOCAB, (BATCH, SRC_LEN)) for _ in range(BATCHES)]
targets = [src.flip(1)[:, :TGT_LEN] for src in sources]
decoder_inputs = [torch.cat([torch.full((BATCH, 1), BOS), tgt[:, :-1]], 1) for tgt in targets]
step_count = 0


def train_step():
    global step_count
    i = step_count % BATCHES
    step_count += 1
    optimizer.zero_grad(set_to_none=True)
    logits = model(sources[i], decoder_inputs[i])
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets[i].reshape(-1))
    loss.backward()
    optimizer.step()
    return loss.item()


params = sum(p.numel() for p in model.parameters())
first, last = check_loss_falls(train_step, 50)
t = time_samples(train_step, warmup=3, samples=samples_from_env(30))
say(f"variant={variant} threads={threads} median {t['median_ms']:.2f} ms/step ({params:,} parameters)")
name = "W4_BahdanauTrainStep" if variant == "cell" else "W4_BahdanauTrainStep_FusedGRU"
report("W4", name, threads, t, params=params, loss_first=round(first, 4), loss_last=round(last, 4))
