"""Phase 2 · Embeddings: sinusoidal and learned absolute positional encodings.

Attention treats its input as a set: without position information, "dog bites man" and "man bites
dog" look the same. Absolute encodings add one d_model-vector per position to the token embeddings.
Implement both classic kinds:
  - `sinusoidal_encoding`: the fixed table of "Attention Is All You Need" (Vaswani et al., 2017);
  - `LearnedPositionalEmbedding`: GPT-2's learned table, one trainable row per position.
"""

import torch
import torch.nn as nn


def sinusoidal_encoding(T: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The (T, d_model) sinusoidal table, for positions 0 .. T-1 (d_model is even).

        PE[pos, 2i]     = sin(pos / base^(2i / d_model))
        PE[pos, 2i + 1] = cos(pos / base^(2i / d_model))      for i = 0 .. d_model/2 - 1

    Even dims hold sines, odd dims cosines, interleaved: (sin, cos) of pair i sit side by side.
    base is 10000 in the paper. Returns: float32 tensor (T, d_model).

    Pointer: compute the (T, d_model/2) angles pos·ω_i in one broadcast, (T, 1) times (d_model/2,).
    """
    raise NotImplementedError


class LearnedPositionalEmbedding(nn.Module):
    """A learned table with one vector per position, as in GPT-2.

    __init__: store the table as `self.weight`, an nn.Parameter of shape (max_len, d_model),
    initialised from a normal distribution with mean 0 and std 0.02.

    forward(T): the vectors of positions 0 .. T-1, a (T, d_model) tensor that still belongs to
    autograd's graph. Raise ValueError when T > max_len: the table has no row for those positions.

    Pointer: the first position of a sequence is position 0.
    """

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        raise NotImplementedError

    def forward(self, T: int) -> torch.Tensor:
        raise NotImplementedError
