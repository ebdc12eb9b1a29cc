"""Phase 2 · Embeddings: sinusoidal and learned absolute positional encodings (reference)."""

import torch
import torch.nn as nn


def sinusoidal_encoding(T: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    pos = torch.arange(T, dtype=torch.float32)[:, None]  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)  # (d/2,): 0, 2, 4, ..., the even dims
    inv_freq = base ** (-two_i / d_model)  # (d/2,): ω_i = 1 / base^(2i/d), from 1 down to about 1/base
    angles = pos * inv_freq  # (T, d/2): pos·ω_i, linear in the position
    # interleave: dim 2i gets sin, dim 2i+1 gets cos of the same angle
    return torch.stack((angles.sin(), angles.cos()), dim=-1).reshape(T, d_model)  # (T, d)


class LearnedPositionalEmbedding(nn.Module):
    """GPT-2's `wpe`: one learned vector per position 0 .. max_len-1."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_len, d_model))  # (max_len, d)
        nn.init.normal_(self.weight, mean=0.0, std=0.02)

    def forward(self, T: int) -> torch.Tensor:
        max_len = self.weight.shape[0]
        if T > max_len:  # slicing would silently return only max_len rows
            raise ValueError(f"{T} positions, but the table only has rows for positions 0..{max_len - 1}")
        return self.weight[:T]  # (T, d): rows 0 .. T-1, broadcasts over the batch when added to (B, T, d)
