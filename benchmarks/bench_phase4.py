"""Phase 4's references measured in one run on this machine.

- train_tokens_per_s: tokens per second of the reference train_step (solutions/phase4/train.py) on
  mentor.lab's GPT with torch.optim.AdamW, at the configuration printed under "config";
- train_vs_builtin: the time of one such step on the course's own pieces (attention written as an
  explicit masked softmax, as in Phase 2, and AdamW's per-tensor for-loop) over the same step on the
  built-in fast paths (F.scaled_dot_product_attention, which mentor.lab uses, and AdamW fused where
  torch offers it on this device, else foreach); both through the same reference train_step, same
  weights, same batches. Also the two causes apart: train_vs_builtin_attention (attention alone
  differs) and train_vs_builtin_optimizer (the optimizer alone differs);
- accumulation_max_abs_diff: the largest difference, in float32, between the gradients of 4
  accumulated micro-batches of 2 sequences and those of one batch of 8;
- resume_bit_exact: whether 2N steps straight and N steps, a restart from the checkpoint with new
  objects and other seeds, and N more give torch.equal parameters and equal losses (dropout 0.1).

Everything runs on one thread, as the graders do: the figures are the loop's, not the scheduler's.
Ratios are timed as the graders' budgets are (mentor.grading.budget.compare_speed): the fastest of
alternating repetitions, on whichever of wall time and process CPU time gives the smaller ratio.
Each measurement is a function of `repeat` returning a dict; later lessons add theirs to MEASUREMENTS.

Usage: python benchmarks/bench_phase4.py [--json] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import math
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mentor.grading.budget import compare_speed, median_seconds
from mentor.lab import GPT, GPTConfig
from mentor.lab.gpt import CausalSelfAttention

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions" / "phase4"
CONFIG = dict(vocab_size=256, block_size=64, d_model=128, n_layers=2, n_heads=4)
BATCH, ACCUM = 8, 2  # tokens per step: ACCUM · BATCH · block_size


@functools.cache
def load(name: str):
    spec = importlib.util.spec_from_file_location(f"reference_{name}", SOLUTIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class ExplicitSoftmaxAttention(CausalSelfAttention):
    """The same attention with its scores, mask and softmax written out, as the Phase 2 exercise does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        H = self.n_heads
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in self.qkv(x).split(C, dim=2))  # (B, H, T, Dh)
        scores = q @ k.transpose(-2, -1) / math.sqrt(C // H)  # (B, H, T, T)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = weights @ v  # (B, H, T, Dh)
        return self.resid_drop(self.proj(y.transpose(1, 2).contiguous().view(B, T, C)))


def gpt(explicit_attention: bool = False, seed: int = 0, dropout: float = 0.0, config=CONFIG) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**config, dropout=dropout))
    if explicit_attention:
        for block in model.blocks:
            fast = block.attn
            block.attn = ExplicitSoftmaxAttention(model.config)
            block.attn.load_state_dict(fast.state_dict())
    return model


def batches(seed: int = 1, config=CONFIG):
    """The given sampler over one fixed token stream; `seed` seeds its draws of windows."""
    train = load("train")
    tokens = torch.randint(0, config["vocab_size"], (20_000,), generator=torch.Generator().manual_seed(0))
    return train.RandomWindows(tokens, BATCH, config["block_size"], seed=seed)


def fast_adamw(params):
    """torch.optim.AdamW on its fastest path here: fused where this device has it, else foreach."""
    try:
        return torch.optim.AdamW(params, lr=1e-3, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, lr=1e-3, foreach=True)


def stepper(model, optimizer, sampler):
    train = load("train")
    return lambda: train.train_step(model, optimizer, sampler.get_batch, ACCUM, max_norm=1.0)


def train_speed(repeat: int) -> dict:
    tokens = ACCUM * BATCH * CONFIG["block_size"]
    ref_model = gpt()
    ref_step = stepper(ref_model, torch.optim.AdamW(ref_model.parameters(), lr=1e-3), batches())
    sides = {}
    for name, explicit, optimizer in (
        ("course", True, lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=False)),
        ("builtin", False, fast_adamw),
        ("attention_only", True, fast_adamw),
        ("optimizer_only", False, lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=False)),
    ):
        model = gpt(explicit_attention=explicit)
        sides[name] = stepper(model, optimizer(model.parameters()), batches())
    ref_time = median_seconds(ref_step, repeat=repeat, warmup=2)
    course, builtin = compare_speed(sides["course"], sides["builtin"], repeat)
    attention, builtin_a = compare_speed(sides["attention_only"], sides["builtin"], repeat)
    optimizer, builtin_o = compare_speed(sides["optimizer_only"], sides["builtin"], repeat)
    return {
        "train_tokens_per_s": tokens / ref_time,
        "train_vs_builtin": course / builtin,
        "train_vs_builtin_attention": attention / builtin_a,
        "train_vs_builtin_optimizer": optimizer / builtin_o,
        "train_step_ms": ref_time * 1e3,
        "fused_adamw": "fused" if _fused_available() else "foreach",
    }


def _fused_available() -> bool:
    try:
        torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], fused=True)
        return True
    except (RuntimeError, TypeError, ValueError):
        return False


def accumulation(repeat: int) -> dict:
    train = load("train")
    small = dict(CONFIG, block_size=32)
    model = gpt(config=small)
    tokens = torch.randint(0, small["vocab_size"], (8, 33), generator=torch.Generator().manual_seed(2))
    micro = iter([(tokens[i : i + 2, :-1], tokens[i : i + 2, 1:]) for i in range(0, 8, 2)])
    train.train_step(model, torch.optim.SGD(model.parameters(), lr=0.0), lambda split: next(micro), 4)
    accumulated = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model(tokens[:, :-1], tokens[:, 1:])[1].backward()
    diff = max(float((a - p.grad).abs().max()) for a, p in zip(accumulated, model.parameters()))
    return {"accumulation_max_abs_diff": diff}


def resume(repeat: int) -> dict:
    train = load("train")
    small = dict(CONFIG, block_size=32, d_model=64)
    n = 3

    def world(seed):
        model = gpt(seed=seed, dropout=0.1, config=small)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 2))
        return model, opt, sched, batches(seed, config=small)

    with tempfile.TemporaryDirectory() as tmp:
        straight = world(1)
        want = train.train(*straight, 2 * n, f"{tmp}/straight.pt", n)
        train.train(*world(1), n, f"{tmp}/run.pt", n)
        random.seed(7), np.random.seed(7), torch.manual_seed(7)
        second = world(2)
        got = train.train(*second, 2 * n, f"{tmp}/run.pt", n)
    same = got == want[n:] and all(torch.equal(p, q) for p, q in zip(second[0].parameters(), straight[0].parameters()))
    return {"resume_bit_exact": bool(same)}


MEASUREMENTS = [train_speed, accumulation, resume]  # each: repeat -> dict of figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, not the figures)")
    args = parser.parse_args()
    repeat = 3 if args.quick else 11
    torch.set_num_threads(1)
    result = {
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "config": dict(CONFIG, batch_size=BATCH, accum_steps=ACCUM, dtype="float32", device="cpu"),
    }  # fmt: skip
    for measure in MEASUREMENTS:
        result |= measure(repeat)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    c = result["config"]
    print(
        f"config: GPT vocab {c['vocab_size']}, d_model {c['d_model']}, {c['n_layers']} layers, {c['n_heads']} heads; "
        f"{c['accum_steps']} micro-batches of {c['batch_size']} x {c['block_size']} tokens, float32 on the CPU, "
        f"threads: {result['threads']}, torch {result['torch']}"
    )
    rows = [
        ("train_step: tokens per second", result["train_tokens_per_s"], f"({result['train_step_ms']:.1f} ms a step)"),
        ("course pieces / built-in (both differ)", result["train_vs_builtin"], f"(AdamW {result['fused_adamw']}, SDPA)"),
        ("  explicit softmax / SDPA attention", result["train_vs_builtin_attention"], ""),
        ("  AdamW for-loop / fast AdamW", result["train_vs_builtin_optimizer"], ""),
        ("accumulated vs large batch: max |diff|", result["accumulation_max_abs_diff"], "(float32)"),
    ]
    for label, value, note in rows:
        print(f"{label:42} {value:12.4g} {note}")
    print(f"{'resume bit-exact':42} {str(result['resume_bit_exact']):>12}")


if __name__ == "__main__":
    main()
