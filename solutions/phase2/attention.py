"""Phase 2 · Attention: scaled dot-product attention, causal masking, multi-head attention (reference)."""

import math

import torch
import torch.nn as nn


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    d_k = q.size(-1)
    # dividing by sqrt(d_k) keeps the scores' spread near 1 whatever the head size, so the
    # softmax does not saturate into a one-hot as d_k grows
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (B, H, T, Dh) @ (B, H, Dh, S) -> (B, H, T, S)
    if mask is not None:
        # before the softmax: e^-inf = 0 gives a masked key no weight, and the rest still sum to 1.
        # -inf exists in every float dtype; a big finite number like -1e9 does not fit in float16
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # over the keys: each query's weights sum to 1
    return weights @ v  # (B, H, T, S) @ (B, H, S, Dv) -> (B, H, T, Dv)


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    # row t is query t, column j is key j: True on and below the diagonal, where j <= t
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()  # (T, T)


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    T = q.size(-2)
    return scaled_dot_product_attention(q, k, v, mask=causal_mask(T, device=q.device))  # (B, H, T, Dh)


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    B, T, C = x.shape
    # memory holds x as (B, T, C): cut each position's C channels into H groups of Dh first,
    # then swap the axes so that each head sees all T positions
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)  # (B, H, T, Dh), a strided view


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    B, H, T, Dh = x.shape
    # transpose only swaps strides; view needs the (B, T, H, Dh) order laid out in memory, so copy
    return x.transpose(1, 2).contiguous().view(B, T, H * Dh)  # (B, T, C)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, causal: bool = False):
        super().__init__()
        assert d_model % n_heads == 0, "d_model must split evenly into heads"
        self.n_heads = n_heads
        self.causal = causal
        self.qkv = nn.Linear(d_model, 3 * d_model)  # q, k and v projections in one matmul
        self.proj = nn.Linear(d_model, d_model)  # mixes what the heads found

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        q, k, v = (split_heads(t, self.n_heads) for t in (q, k, v))  # each (B, H, T, Dh)
        y = causal_attention(q, k, v) if self.causal else scaled_dot_product_attention(q, k, v)  # (B, H, T, Dh)
        return self.proj(merge_heads(y))  # (B, T, C)
