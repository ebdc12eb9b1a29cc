"""Phase 3 · What training a GPT costs in memory, counted before it is built (reference).

The GPT is the Phase 2 model with two switches: `tied` (the LM head is the token embedding) and
`bias` (every Linear and LayerNorm has a bias). `GPT` below is that model, for the grader to count
and to train; the learner's file has only the config and the three functions.
"""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}  # bytes per element of each training dtype
OPTIMIZER_STATES = {"adamw": 2, "sgd": 0}  # float32 tensors the optimizer keeps per parameter


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    block_size: int = 1024
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12
    tied: bool = True  # lm_head.weight is tok_emb.weight: one (V, C) matrix
    bias: bool = True  # every Linear and LayerNorm has a bias (the LM head never has one)


def param_count(config: GPTConfig) -> int:
    V, T, C, L = config.vocab_size, config.block_size, config.d_model, config.n_layers
    b = 1 if config.bias else 0
    layer_norm = C + b * C  # gain (and bias)
    attention = (3 * C * C + b * 3 * C) + (C * C + b * C)  # qkv and output projection
    mlp = (4 * C * C + b * 4 * C) + (4 * C * C + b * C)  # fc and proj
    block = 2 * layer_norm + attention + mlp  # 12·C² + 13·C with biases, 12·C² + 2·C without
    head = 0 if config.tied else V * C  # a tied head is the embedding, counted once
    return V * C + T * C + L * block + layer_norm + head


def activation_elements(config: GPTConfig, batch: int, seq: int) -> int:
    """Elements autograd saves for backward: per block 16·B·T·C (see below) + B·H·T², then the logits."""
    B, T, C, H = batch, seq, config.d_model, config.n_heads
    # ln1 in, ln1 out, q k v (3), attention out, ln2 in, ln2 out, fc out (4), GELU out (4): 16·B·T·C
    per_block = 16 * B * T * C + B * H * T * T  # + the softmax weights, one (T, T) matrix per head
    return config.n_layers * per_block + B * T * config.vocab_size  # + the logits


def training_memory(
    config: GPTConfig, batch: int, seq: int, dtype: str = "float32", optimizer: str = "adamw"
) -> dict[str, int]:
    if dtype not in BYTES:
        raise ValueError(f"dtype must be one of {sorted(BYTES)}, got {dtype!r}")
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZER_STATES)}, got {optimizer!r}")
    N, nbytes = param_count(config), BYTES[dtype]
    parts = {
        "weights": nbytes * N,  # the copy forward and backward compute with
        "grads": nbytes * N,  # one gradient per weight, in the weights' dtype
        "optimizer": 4 * OPTIMIZER_STATES[optimizer] * N,  # AdamW's m and v stay float32
        "master": 4 * N if nbytes < 4 else 0,  # mixed precision: the float32 weights the update is applied to
        "activations": nbytes * activation_elements(config, batch, seq),
    }
    parts["total"] = sum(parts.values())
    return parts


def largest_batch(
    config: GPTConfig, seq: int, memory_bytes: int, dtype: str = "float32", optimizer: str = "adamw"
) -> int:
    fixed = training_memory(config, 0, seq, dtype, optimizer)["total"]  # what a batch of 0 still costs
    per_sequence = training_memory(config, 1, seq, dtype, optimizer)["total"] - fixed  # activations grow with B
    return max(0, (memory_bytes - fixed) // per_sequence)


# -- the model counted and trained by the grader --------------------------------------------------


class Block(nn.Module):
    """The Phase 2 pre-norm block: x + attn(ln1(x)), then x + mlp(ln2(x)), causal attention."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        C, bias = config.d_model, config.bias
        self.n_heads = config.n_heads
        self.ln1 = nn.LayerNorm(C, bias=bias)
        self.qkv = nn.Linear(C, 3 * C, bias=bias)
        self.proj = nn.Linear(C, C, bias=bias)
        self.ln2 = nn.LayerNorm(C, bias=bias)
        self.fc = nn.Linear(C, 4 * C, bias=bias)
        self.gelu = nn.GELU(approximate="tanh")
        self.mlp_proj = nn.Linear(4 * C, C, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        H = self.n_heads
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in self.qkv(self.ln1(x)).split(C, dim=2))
        scores = (q @ k.transpose(-2, -1)) * (C // H) ** -0.5  # (B, H, T, T)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)  # saved: B·H·T·T
        y = (weights @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        return x + self.mlp_proj(self.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.block_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model, bias=config.bias)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tied:
            self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        B, T = idx.shape
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None if targets is None else F.cross_entropy(logits.view(B * T, -1), targets.view(B * T))
        return logits, loss
