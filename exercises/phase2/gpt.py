"""Phase 2 · A decoder-only GPT, assembled from your own components.

Step p2.gpt.model. Build the model from YOUR Block (block.py, step p2.attention.block), which uses
YOUR attention (attention.py): token and learned position embeddings, n_layers causal blocks, a
final LayerNorm, and an LM head whose weight is the token embedding's (weight tying). Then count
its parameters with a formula. GPTConfig is given.
"""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from block import Block


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    block_size: int = 1024  # the longest context the model accepts
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12


class GPT(nn.Module):
    """Token ids (B, T) -> logits (B, T, V) over the next token at every position.

    Submodules (the grader loads weights by these names):
      self.tok_emb = nn.Embedding(vocab_size, d_model)
      self.pos_emb = nn.Embedding(block_size, d_model)      one learned vector per position
      self.blocks  = nn.ModuleList of n_layers Block(d_model, n_heads, causal=True)
      self.ln_f    = nn.LayerNorm(d_model)
      self.lm_head = nn.Linear(d_model, vocab_size, bias=False), its weight tied to tok_emb.weight

    Pointer: tying is one assignment, `self.lm_head.weight = self.tok_emb.weight`.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        raise NotImplementedError

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx: (B, T) token ids with T <= block_size.  targets: None or (B, T) ids of the next tokens.

        Returns: (logits (B, T, V), loss), loss the mean cross-entropy over all B·T positions as a
        0-d tensor, or None without targets.

        Pointer: `F.cross_entropy` takes scores of shape (N, V) and classes of shape (N,).
        """
        raise NotImplementedError


def count_parameters(config: GPTConfig) -> int:
    """The number of distinct parameters of GPT(config), from a closed-form formula (no model built).

    Pointer: count one block (two LayerNorms, attention, MLP, every bias), then the embeddings and ln_f.
    """
    raise NotImplementedError
