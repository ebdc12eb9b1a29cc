"""Phase 2 · Embeddings: token embedding lookup (reference)."""

import torch
import torch.nn as nn


class TokenEmbedding(nn.Module):
    """A learned (V, d) table: token id v reads row v."""

    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab_size, d_model))  # (V, d): one row per token id
        nn.init.normal_(self.weight, mean=0.0, std=0.02)  # GPT-2's init scale

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        # ids (B, T) of integers in [0, V) -> (B, T, d). Gathering rows equals one_hot(ids) @ weight
        # without the (B, T, V) one-hot; autograd sends each position's gradient back into its row only.
        return self.weight[ids]  # (B, T, d)
