"""Phase 2 · The feed-forward block (GELU and SwiGLU) and the pre-norm transformer block (reference)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from attention import MultiHeadAttention


class MLP(nn.Module):
    def __init__(self, d_model: int):
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model)  # expand: 4x as in GPT-2
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's GELU
        self.proj = nn.Linear(4 * d_model, d_model)  # back to the residual stream's width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.gelu(self.fc(x)))  # (B, T, C) -> (B, T, 4C) -> (B, T, C)


class SwiGLU(nn.Module):
    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.gate = nn.Linear(d_model, hidden, bias=False)  # through SiLU: how much of each unit passes
        self.up = nn.Linear(d_model, hidden, bias=False)  # the value that is let through
        self.down = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))  # (B, T, hidden) gated elementwise -> (B, T, C)


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int, causal: bool = False):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, causal=causal)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # pre-norm: each sublayer reads a normalized copy and adds its result to the stream, which
        # itself is never normalized, so an identity path runs from the input to the output
        x = x + self.attn(self.ln1(x))  # (B, T, C): tokens exchange information
        x = x + self.mlp(self.ln2(x))  # (B, T, C): each position computes on its own
        return x
