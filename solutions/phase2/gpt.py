"""Phase 2 · A decoder-only GPT assembled from your attention and blocks (reference)."""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from block import Block


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    block_size: int = 1024  # the longest context: one learned position embedding per position
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.block_size, config.d_model)
        # causal: a language model predicts token t+1 from tokens <= t, so it must not peek ahead
        self.blocks = nn.ModuleList(Block(config.d_model, config.n_heads, causal=True) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model)  # pre-norm blocks leave the stream unnormalized
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        # weight tying: one (V, C) matrix reads tokens in and scores them out
        self.lm_head.weight = self.tok_emb.weight
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # GPT-2's small normal init: logits start near 0, so the first loss is near ln(V)
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T = idx.shape
        assert T <= self.config.block_size, f"sequence of {T} tokens, but block_size is {self.config.block_size}"
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.tok_emb(idx) + self.pos_emb(pos)  # (B, T, C) + (T, C) broadcast over the batch
        for block in self.blocks:
            x = block(x)  # (B, T, C)
        x = self.ln_f(x)
        logits = self.lm_head(x)  # (B, T, V)
        loss = None
        if targets is not None:
            # cross_entropy wants (N, V) scores and (N,) classes: every position is one example
            loss = F.cross_entropy(logits.view(B * T, -1), targets.view(B * T))
        return logits, loss


def count_parameters(config: GPTConfig) -> int:
    V, T, C, L = config.vocab_size, config.block_size, config.d_model, config.n_layers
    layer_norm = 2 * C  # gain and bias
    attention = (C * 3 * C + 3 * C) + (C * C + C)  # qkv and output projection, with biases
    mlp = (C * 4 * C + 4 * C) + (4 * C * C + C)  # fc and proj, with biases
    block = 2 * layer_norm + attention + mlp  # = 12·C² + 13·C
    # the LM head adds nothing: it is the token embedding, tied
    return V * C + T * C + L * block + layer_norm
