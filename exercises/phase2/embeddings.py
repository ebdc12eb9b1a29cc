"""Phase 2 · Embeddings: token embedding lookup.

Implement `TokenEmbedding`, the first layer of a GPT: a learned table with one d_model-vector per
token id. `forward(ids)` looks up the rows of the ids, so that it equals `one_hot(ids) @ weight`,
but without ever building the (B, T, V) one-hot tensor. Gradients then reach only the rows that
were read. nn.Embedding does all this for you; here you write it yourself.
"""

import torch
import torch.nn as nn


class TokenEmbedding(nn.Module):
    """A learned table of token vectors.

    __init__: store the table as `self.weight`, an nn.Parameter of shape (vocab_size, d_model),
    initialised from a normal distribution with mean 0 and std 0.02 (GPT-2's choice).

    forward(ids): ids is a (B, T) integer tensor with values in [0, vocab_size).
    Returns: (B, T, d_model) float tensor; out[b, t] is row ids[b, t] of the table.

    Pointer: a tensor indexed by an integer tensor picks whole rows along its first axis.
    """

    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        raise NotImplementedError

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
