"""Phase 5's references measured in one run on this machine: INT8 against float32 for decoding.

Decoding speed and weight bytes are measured on the reference model at the `cpu-8gb` capstone shape
(curriculum/capstone.yaml: ~10.6M parameters, vocabulary 4096, context 256) with its initial weights:
neither depends on what the weights learned. The perplexity change needs a model that has learned
something, so it is measured on a small GPT (stated under "config") trained here for a few hundred
steps on the course's own corpus, one byte per token.

- fp32_tokens_per_s, int8_tokens_per_s: decode tokens per second of the reference generate()
  (solutions/phase5/inference.py, greedy, KV cache) with float32 weights, and with every Linear but the
  tied head replaced by the reference Int8Linear (solutions/phase5/quant.py), per channel;
- int8_vs_fp32_speed: int8_tokens_per_s / fp32_tokens_per_s (above 1: INT8 decodes faster);
- int8_kernel_tokens_per_s, int8_kernel_vs_fp32_speed: the same with the Linear forward through
  PyTorch's fused weight-only kernel torch._weight_int8pack_mm (never builds the float weight), where
  this torch has it;
- int8_weight_bytes_ratio: bytes of the quantized model's weights (codes, scales, biases, the float
  embeddings and norms) over the float32 model's;
- int8_ppl_delta: ppl_int8 / ppl_fp32 - 1 on held-out text of the trained small model;
- bandwidth_floor_tokens_per_s: memory bandwidth measured here (a large tensor copy) over the float32
  weight bytes read per decoded token: the physical limit for decode when every weight is read once per
  token; each measured figure reads against it.

Usage: python benchmarks/bench_phase5.py [--json] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import math
import statistics
import time
from pathlib import Path

import torch
import torch.nn as nn

from mentor.curriculum import load_course
from mentor.paths import content_root

ROOT = content_root()
PROMPT, NEW_TOKENS = 16, 64
SMALL = dict(vocab_size=256, block_size=64, d_model=128, n_layers=4, n_heads=4)  # for the perplexity
TRAIN_STEPS, BATCH, LR = 300, 16, 3e-3


def load(relative: str, name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


QUANT = load("solutions/phase5/quant.py", "quant_reference")
INFER = load("solutions/phase5/inference.py", "inference_reference")


def capstone_shape() -> dict:
    from mentor.capstone.config import load_configs

    course = load_course(ROOT)
    c = load_configs(ROOT, course.profiles)["cpu-8gb"]
    return dict(vocab_size=c.vocab_size, block_size=c.block_size, d_model=c.d_model, n_layers=c.n_layers, n_heads=c.n_heads)


def model_of(shape: dict, seed: int = 0) -> nn.Module:
    from mentor.lab.decoding import GPT, GPTConfig

    torch.manual_seed(seed)
    return GPT(GPTConfig(**shape)).eval()


class KernelLinear(nn.Module):
    """The reference Int8Linear's buffers, its forward through torch._weight_int8pack_mm."""

    def __init__(self, layer):
        super().__init__()
        self.out_features, self.in_features = layer.weight.shape
        self.register_buffer("weight", layer.weight)
        self.register_buffer("scale", layer.scale.reshape(-1).float())
        self.register_buffer("bias", layer.bias)

    def forward(self, x):
        y = torch._weight_int8pack_mm(x.reshape(-1, self.in_features).contiguous(), self.weight, self.scale)
        y = y if self.bias is None else y + self.bias
        return y.reshape(*x.shape[:-1], self.out_features)


def with_kernel(quantized: nn.Module) -> nn.Module:
    fast = copy.deepcopy(quantized)
    for parent in list(fast.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, QUANT.Int8Linear):
                setattr(parent, name, KernelLinear(child))
    return fast


def weight_bytes(model: nn.Module) -> int:
    seen, total = set(), 0
    for t in [*model.parameters(), *model.buffers()]:
        if t.data_ptr() not in seen:  # a tied head counts once
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total


def decode_tokens_per_s(model: nn.Module, repeat: int) -> float:
    prompt = torch.randint(0, model.config.vocab_size, (1, PROMPT), generator=torch.Generator().manual_seed(0))
    INFER.generate(model, prompt, 8, temperature=0)  # warm-up
    rates = [INFER.generate(model, prompt, NEW_TOKENS, temperature=0)[1]["tokens_per_s"] for _ in range(repeat)]
    return max(rates)  # load only slows a run down: the fastest is the closest to the code's own speed


def bandwidth_bytes_per_s(repeat: int) -> float:
    src = torch.empty(64 << 20, dtype=torch.uint8).fill_(1)  # 64 MB: far past the caches
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = min(_timed(lambda: dst.copy_(src)) for _ in range(repeat))
    return 2 * src.numel() / best  # a copy reads and writes every byte


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def corpus_bytes(limit: int) -> bytes:
    from mentor.corpus import default_corpus

    return default_corpus(limit).encode("utf-8")[:limit]


def trained_small(steps: int) -> tuple[nn.Module, torch.Tensor]:
    """The small GPT trained on the first 90% of ~1 MB of the corpus; the last 10% held out, as byte ids."""
    data = torch.frombuffer(bytearray(corpus_bytes(1 << 20)), dtype=torch.uint8).long()
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    model = model_of(SMALL, seed=1).train()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    g = torch.Generator().manual_seed(2)
    T = SMALL["block_size"]
    for _ in range(steps):
        starts = torch.randint(0, len(train) - T - 1, (BATCH,), generator=g)
        x = torch.stack([train[s : s + T] for s in starts])
        y = torch.stack([train[s + 1 : s + T + 1] for s in starts])
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval(), val


@torch.no_grad()
def perplexity(model: nn.Module, val: torch.Tensor) -> float:
    T = SMALL["block_size"]
    n = (len(val) - 1) // T
    x = val[: n * T].view(n, T)
    y = val[1 : n * T + 1].view(n, T)
    losses = [model(x[i : i + 64], y[i : i + 64])[1].item() * len(x[i : i + 64]) for i in range(0, n, 64)]
    return math.exp(sum(losses) / n)


def measure(quick: bool) -> dict:
    repeat = 2 if quick else 5
    shape = capstone_shape()
    fp32 = model_of(shape)
    int8 = QUANT.quantize_model(fp32).eval()
    out = {"config": {"decode_model": shape, "prompt": PROMPT, "new_tokens": NEW_TOKENS, "threads": torch.get_num_threads(),
                      "ppl_model": SMALL, "ppl_train_steps": TRAIN_STEPS if not quick else 60}}  # fmt: skip
    out["fp32_tokens_per_s"] = decode_tokens_per_s(fp32, repeat)
    out["int8_tokens_per_s"] = decode_tokens_per_s(int8, repeat)
    out["int8_vs_fp32_speed"] = out["int8_tokens_per_s"] / out["fp32_tokens_per_s"]
    if hasattr(torch, "_weight_int8pack_mm"):
        out["int8_kernel_tokens_per_s"] = decode_tokens_per_s(with_kernel(int8), repeat)
        out["int8_kernel_vs_fp32_speed"] = out["int8_kernel_tokens_per_s"] / out["fp32_tokens_per_s"]
    out["int8_weight_bytes_ratio"] = weight_bytes(int8) / weight_bytes(fp32)
    out["fp32_weight_bytes"] = weight_bytes(fp32)
    bandwidth = bandwidth_bytes_per_s(repeat)
    out["bandwidth_gb_per_s"] = bandwidth / 1e9
    out["bandwidth_floor_tokens_per_s"] = bandwidth / weight_bytes(fp32)
    small, val = trained_small(out["config"]["ppl_train_steps"])
    ppl_fp32, ppl_int8 = perplexity(small, val), perplexity(QUANT.quantize_model(small).eval(), val)
    out["ppl_fp32"], out["ppl_int8"] = ppl_fp32, ppl_int8
    out["int8_ppl_delta"] = ppl_int8 / ppl_fp32 - 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and training steps (a smoke run)")
    args = parser.parse_args()
    out = measure(args.quick)
    if args.json:
        print(json.dumps(out))
        return
    for key, value in out.items():
        print(f"{key:30} {value:.4g}" if isinstance(value, float) else f"{key:30} {value}")


if __name__ == "__main__":
    main()
