"""W3, PyTorch side: one training step of a small MLP.

784 -> 256 -> ReLU -> 256 -> ReLU -> 10, batch 64, mean cross-entropy, SGD with lr 0.1 and no
momentum. The data is 16 fixed batches, x ~ N(0, 1), each labelled with argmax(x @ W_teacher)
for one fixed random W_teacher, so there is something to learn; the batches are cycled.
A step: zero_grad (gradients set to None), forward, loss, backward, SGD step, loss.item().
50 steps whose loss must fall (the warm-up), 5 more, then 50 timed steps.
Run: /usr/bin/python3 bench/pytorch/w3_mlp.py THREADS
"""
import torch
import torch.nn.functional as F
from torch import nn

from common import check_loss_falls, report, samples_from_env, say, setup, threads_from_argv, time_samples

BATCH, IN, HIDDEN, OUT, BATCHES = 64, 784, 256, 10, 16
threads = threads_from_argv()
setup(threads)

model = nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                      nn.Linear(HIDDEN, OUT))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
teacher = torch.randn(IN, OUT)
inputs = [torch.randn(BATCH, IN) for _ in range(BATCHES)]
labels = [(x @ teacher).argmax(dim=1) for x in inputs]
step_count = 0


def train_step():
    global step_count
    x, y = inputs[step_count % BATCHES], labels[step_count % BATCHES]
    step_count += 1
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


first, last = check_loss_falls(train_step, 50)
t = time_samples(train_step, warmup=5, samples=samples_from_env(50))
say(f"threads={threads} median {t['median_ms']:.3f} ms/step")
report("W3", "W3_MlpTrainStep", threads, t, loss_first=round(first, 4), loss_last=round(last, 4))
