"""Phase 2 · The feed-forward block and the pre-norm transformer block.

Step p2.attention.block. Write the GPT-2 MLP (GELU, 4x expansion), a SwiGLU feed-forward layer,
and the pre-norm residual block built on YOUR MultiHeadAttention from attention.py
(step p2.attention.mha). The grader loads weights by the submodule names the docstrings give.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from attention import MultiHeadAttention


class MLP(nn.Module):
    """GPT-2's feed-forward layer, applied to each position on its own: (B, T, C) -> (B, T, C).

    Submodules: self.fc = nn.Linear(d_model, 4 * d_model), then GPT-2's GELU (the tanh
    approximation), then self.proj = nn.Linear(4 * d_model, d_model).

    Pointer: `nn.GELU(approximate="tanh")`; plain `nn.GELU()` is the exact erf form.
    """

    def __init__(self, d_model: int):
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class SwiGLU(nn.Module):
    """The gated feed-forward layer of LLaMA-style models: (B, T, C) -> (B, T, C).

    Submodules, all without bias: self.gate and self.up = nn.Linear(d_model, hidden),
    self.down = nn.Linear(hidden, d_model). Output: down(silu(gate(x)) * up(x)).

    Pointer: `F.silu(z) = z * sigmoid(z)`.
    """

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Block(nn.Module):
    """A pre-norm transformer block: (B, T, C) -> (B, T, C).

    Submodules: self.ln1 = nn.LayerNorm(d_model), self.attn = MultiHeadAttention(d_model, n_heads,
    causal=causal), self.ln2 = nn.LayerNorm(d_model), self.mlp = MLP(d_model).

    Pointer: two lines, each `x = x + sublayer(norm(x))`.
    """

    def __init__(self, d_model: int, n_heads: int, causal: bool = False):
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
