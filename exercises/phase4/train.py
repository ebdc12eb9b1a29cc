"""Phase 4 · The training loop: accumulation, clipping, mixed precision, evaluation, a log, and
checkpoints that resume bit for bit.

Two steps fill this file, in order:
  p4.train.loop    train_step, evaluate, log_line
  p4.train.resume  save_checkpoint, load_checkpoint, train

The model is any module called as `model(x, y) -> (logits, loss)`, such as mentor.lab.GPT: x and y
are (B, T) torch.long, y is x shifted by one (y[:, t] is the token after x[:, t]), loss is the mean
cross-entropy over the B·T positions. Data arrive through `get_batch(split) -> (x, y)`, split
"train" or "val": a function you are given, never one you write here. RandomWindows below is one
(given, complete): `RandomWindows(tokens, 8, 64).get_batch` is a get_batch, and the sampler that
`train` takes.

Try it: `from mentor.lab import GPT, GPTConfig`, a model with vocab_size=128, d_model=64,
n_layers=2, n_heads=4, block_size=64, torch.optim.AdamW, and tokens = torch.randint(0, 128, (10_000,)).

Pointer: the gradients of a loss divided by accum_steps, added up over accum_steps backward passes,
are the gradients of the mean loss; torch.nn.utils.clip_grad_norm_ returns the norm it measured
before clipping.
"""

import json
import os
import random
from contextlib import nullcontext

import numpy as np
import torch

# -- given: a sampler of random windows ----------------------------------------------------------


class RandomWindows:
    """Batches of random windows from a 1-D token tensor, drawn with a torch.Generator of its own.

    get_batch(split) -> (x, y), each (batch_size, block_size) torch.long, y = x shifted by one. The
    last `val_fraction` of the tokens is the "val" split. state_dict() / load_state_dict() save and
    restore the data position: the generator's state and how many batches were served.
    """

    def __init__(self, tokens, batch_size, block_size, seed=0, val_fraction=0.1):
        tokens = torch.as_tensor(tokens, dtype=torch.long)
        cut = int(len(tokens) * (1 - val_fraction))
        self.splits = {"train": tokens[:cut], "val": tokens[cut:]}
        self.batch_size, self.block_size = batch_size, block_size
        self.generator = torch.Generator().manual_seed(seed)
        self.served = 0

    def get_batch(self, split):
        data = self.splits[split]
        starts = torch.randint(len(data) - self.block_size, (self.batch_size,), generator=self.generator)
        windows = torch.stack([data[s : s + self.block_size + 1] for s in starts.tolist()])  # (B, T + 1)
        self.served += 1
        return windows[:, :-1], windows[:, 1:]

    def state_dict(self):
        return {"generator": self.generator.get_state(), "served": self.served}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])
        self.served = state["served"]


# -- p4.train.loop ------------------------------------------------------------------------------


def train_step(model, optimizer, get_batch, accum_steps, max_norm=None, scaler=None, autocast_dtype=None):
    """One optimizer step from `accum_steps` micro-batches; returns {"loss": float, "grad_norm": float}.

    - Zero the gradients once, first (gradients left from before the call must not count).
    - accum_steps times: x, y = get_batch("train"); loss = model(x, y)[1]; backward of
      loss / accum_steps. With autocast_dtype (torch.bfloat16 on the CPU, torch.float16 on CUDA) the
      forward runs under torch.autocast(x.device.type, dtype=autocast_dtype), the backward outside it.
    - With a scaler (torch.amp.GradScaler): backward of scaler.scale(...), scaler.unscale_(optimizer)
      before measuring, scaler.step(optimizer) and scaler.update() instead of optimizer.step().
    - grad_norm: the global norm of all gradients, measured before clipping; with max_norm, clip to it.
    - loss: the mean of the micro-batches' losses (undivided), a Python float.
    """
    raise NotImplementedError


def evaluate(model, get_batch, iters):
    """The mean loss over `iters` batches of get_batch("val"), as a Python float.

    In eval mode and without autograd; the model leaves in the mode (train or eval) it came in.
    """
    raise NotImplementedError


def log_line(path, **fields):
    """Append `fields` to the file at `path` as one JSON object on a line of its own.

    log_line("train.jsonl", step=10, tokens=5120, train_loss=3.2, val_loss=None, lr=3e-4,
    grad_norm=0.8, tokens_per_s=2100.0) adds one line; the file is created when missing, and what it
    held stays.
    """
    raise NotImplementedError


# -- p4.train.resume ----------------------------------------------------------------------------


def save_checkpoint(path, model, optimizer, scheduler, step, data_state, rng=True):
    """Write a checkpoint from which a run continues exactly, with torch.save, atomically.

    It holds the model's, the optimizer's and the scheduler's state_dict(), the step (how many optimizer
    steps are done), data_state (the sampler's state_dict()) and, with rng=True, the states of
    Python's random, NumPy's global generator, torch's CPU generator (and CUDA's, when available).
    torch.load(path, weights_only=True) must read it. Write a temporary file in the same folder, then
    os.replace it onto `path`. Nothing it is given changes, no random number is drawn.
    """
    raise NotImplementedError


def load_checkpoint(path, model, optimizer, scheduler):
    """Restore model, optimizer, scheduler and the saved RNG states in place; return (step, data_state).

    The model keeps its parameter objects (the optimizer holds them); a checkpoint saved with rng=False
    leaves every generator as it is.
    """
    raise NotImplementedError


def train(model, optimizer, scheduler, sampler, steps, ckpt_path, every, accum_steps=1, max_norm=None):
    """Train until `steps` optimizer steps are done in all; returns the losses of the steps this call ran.

    - If ckpt_path exists, resume from it: load_checkpoint, then sampler.load_state_dict(data_state).
    - model.train(), then each step: train_step(model, optimizer, sampler.get_batch, accum_steps,
      max_norm), scheduler.step().
    - After step s (counted from 1) with s % every == 0, and after the last step, save_checkpoint with
      step s and sampler.state_dict().
    """
    raise NotImplementedError
