"""Phase 2 · Attention, in PyTorch.

Three steps fill this file, in order:
  p2.attention.sdpa    scaled_dot_product_attention
  p2.attention.causal  causal_mask, causal_attention
  p2.attention.mha     split_heads, merge_heads, MultiHeadAttention
Shapes: B batch, H heads, T query positions, S key positions, Dh per-head size, C = d_model = H·Dh.
Write attention from matmuls and a softmax: calling F.scaled_dot_product_attention or
nn.MultiheadAttention would skip the point of the lesson. Work in whatever float dtype you are given.
"""

import math

import torch
import torch.nn as nn


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """softmax(q kᵀ / sqrt(d_k)) v, for every batch element and head at once.

    q: (B, H, T, Dh).  k: (B, H, S, Dh).  v: (B, H, S, Dv).
    mask: None, or a bool tensor that broadcasts to the (B, H, T, S) scores: True where query t
    may attend to key s, False where it may not (the convention of F.scaled_dot_product_attention).
    Returns: (B, H, T, Dv). Leaves q, k and v unchanged.

    Pointer: `k.transpose(-2, -1)` turns (B, H, S, Dh) into (B, H, Dh, S), so `q @ kᵀ` is (B, H, T, S).
    """
    raise NotImplementedError


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The (T, T) bool mask of a decoder: entry [t, j] is True when query t may see key j, i.e. j <= t.

    Pointer: `torch.tril` keeps the lower triangle, the diagonal included.
    """
    raise NotImplementedError


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Attention in which position t attends only to positions <= t.

    q, k, v: (B, H, T, Dh).  Returns: (B, H, T, Dh), in the dtype of q (float16 included).

    Pointer: your scaled_dot_product_attention with causal_mask(T, device=q.device).
    """
    raise NotImplementedError


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(B, T, C) -> (B, H, T, Dh): head h gets channels h·Dh to (h+1)·Dh - 1 of every position.

    Pointer: `x.view(B, T, H, Dh)` cuts each position's channels into heads; then move the head axis.
    """
    raise NotImplementedError


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, T, Dh) -> (B, T, C), the inverse of split_heads: head h fills channels h·Dh to (h+1)·Dh - 1.

    Pointer: `.view` only reinterprets memory it can address with strides; after a transpose it may need a copy.
    """
    raise NotImplementedError


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention: (B, T, C) -> (B, T, C).

    Submodules (the grader loads weights by these names):
      self.qkv  = nn.Linear(d_model, 3 * d_model)  q, k and v fused: its output splits into q | k | v, C each
      self.proj = nn.Linear(d_model, d_model)      the output projection, applied to the merged heads
    causal=True makes every head causal (your causal_attention); causal=False attends everywhere.
    """

    def __init__(self, d_model: int, n_heads: int, causal: bool = False):
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, C).  Returns: (B, T, C).

        Pointer: qkv, split into q, k, v, split_heads each, attention, merge_heads, proj.
        """
        raise NotImplementedError
