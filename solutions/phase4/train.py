"""Phase 4 · The training loop: accumulation, clipping, mixed precision, evaluation, a log, and
checkpoints that resume bit for bit (reference).

p4.train.loop    train_step, evaluate, log_line
p4.train.resume  save_checkpoint, load_checkpoint, train

RandomWindows is given: the sampler the examples use.
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
    """One optimizer step from accum_steps micro-batches: their mean loss and the gradient norm
    measured before clipping, as Python floats."""
    optimizer.zero_grad(set_to_none=True)  # once, before the first micro-batch: gradients add up after it
    total = 0.0
    for _ in range(accum_steps):
        x, y = get_batch("train")  # (B, T) each, y already shifted by one
        # autocast around the forward (and the loss) only: backward runs in the dtypes the forward chose
        cast = torch.autocast(x.device.type, dtype=autocast_dtype) if autocast_dtype is not None else nullcontext()
        with cast:
            _, loss = model(x, y)
        total += loss.item()
        loss = loss / accum_steps  # the mean over micro-batches equals the large batch's mean loss
        (scaler.scale(loss) if scaler is not None else loss).backward()
    if scaler is not None:
        scaler.unscale_(optimizer)  # true gradients before they are measured or clipped
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if max_norm is None:
        grad_norm = torch.nn.utils.get_total_norm(grads)
    else:
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)  # returns the norm before
    if scaler is not None:
        scaler.step(optimizer)  # skips the step when a gradient overflowed
        scaler.update()
    else:
        optimizer.step()
    return {"loss": total / accum_steps, "grad_norm": float(grad_norm)}


@torch.no_grad()  # no graph: evaluation never calls backward
def evaluate(model, get_batch, iters):
    """The mean loss of `iters` validation batches in eval mode; the model's mode is restored after."""
    was_training = model.training
    model.eval()  # dropout off: the number measures the model, not one random mask
    try:
        losses = [model(*get_batch("val"))[1].item() for _ in range(iters)]
    finally:
        model.train(was_training)
    return sum(losses) / iters


def log_line(path, **fields):
    """Append the fields as one JSON object on a line of its own."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(fields) + "\n")


# -- p4.train.resume ----------------------------------------------------------------------------


def rng_states():
    """Every random generator a training run draws from, as values torch.load(weights_only=True) reads."""
    name, key, pos, has_gauss, gauss = np.random.get_state()
    states = {
        "python": random.getstate(),
        "numpy": (name, key.tolist(), pos, has_gauss, gauss),  # an ndarray is not a weights-only value
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states):
    random.setstate(states["python"])
    name, key, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, np.array(key, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(path, model, optimizer, scheduler, step, data_state, rng=True):
    """Write everything a run needs to continue exactly, atomically: a temporary file in the same
    folder, then os.replace, so an interrupted save leaves the previous checkpoint whole."""
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "data": data_state,
    }
    if rng:
        checkpoint["rng"] = rng_states()
    tmp = f"{path}.tmp"
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)  # atomic on one file system: readers see the old file or the new one


def load_checkpoint(path, model, optimizer, scheduler):
    """Restore model, optimizer, scheduler and (when saved) every RNG in place; return (step, data_state)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model"])  # copies into the parameters the optimizer holds
    optimizer.load_state_dict(checkpoint["optimizer"])  # its state follows each parameter's device
    scheduler.load_state_dict(checkpoint["scheduler"])
    if "rng" in checkpoint:
        set_rng_states(checkpoint["rng"])
    return checkpoint["step"], checkpoint["data"]


def train(model, optimizer, scheduler, sampler, steps, ckpt_path, every, accum_steps=1, max_norm=None):
    """Run until `steps` optimizer steps are done in all, resuming from ckpt_path when it exists; save
    after every `every`-th step and after the last. Returns the losses of the steps this call ran."""
    step = 0
    if os.path.exists(ckpt_path):
        step, data_state = load_checkpoint(ckpt_path, model, optimizer, scheduler)
        sampler.load_state_dict(data_state)
    model.train()
    losses = []
    while step < steps:
        stats = train_step(model, optimizer, sampler.get_batch, accum_steps, max_norm)
        scheduler.step()  # after the optimizer's step: the lr of the next step
        step += 1  # `step` steps are done: the number the checkpoint holds
        losses.append(stats["loss"])
        if step % every == 0 or step == steps:
            save_checkpoint(ckpt_path, model, optimizer, scheduler, step, sampler.state_dict())
    return losses
