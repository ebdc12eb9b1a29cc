"""The course's GPT with a KV cache: what Phase 3 built, complete, for the decoding steps of Phase 5.

The same config and module names as mentor.lab.gpt.GPT (`tok_emb`, `blocks[i].attn.qkv`, ...), so the
weights of a model trained there load here unchanged; the same computation as the Phase 3 reference
(solutions/phase3/kv_cache.py), with attention through `F.scaled_dot_product_attention`. `forward(idx,
cache=cache)` runs the T newest tokens at positions cache.length.. and advances the cache once.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from mentor.lab.gpt import MLP, GPTConfig


class KVCache:
    """Keys and values of every layer for the positions decoded so far, allocated once.

    k, v: (n_layers, batch_size, n_heads, max_len, head_dim) each; positions 0..length-1 are filled.
    """

    def __init__(self, n_layers, batch_size, n_heads, max_len, head_dim, dtype=torch.float32, device=None):
        shape = (n_layers, batch_size, n_heads, max_len, head_dim)
        # allocated up front: decoding writes into these buffers and never copies the prefix again
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.max_len = max_len
        self.length = 0  # positions cached in every layer

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the T newest positions of `layer`, k and v (B, H, T, Dh); return every cached one."""
        start, end = self.length, self.length + k.size(2)
        if end > self.max_len:
            raise ValueError(f"KV cache full: {start} positions cached + {k.size(2)} new > max_len {self.max_len}")
        self.k[layer, :, :, start:end] = k
        self.v[layer, :, :, start:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]  # each (B, H, end, Dh)

    def advance(self, T: int) -> None:
        self.length += T  # once per forward, after every layer has appended its T positions

    def nbytes(self) -> int:
        return self.k.nbytes + self.v.nbytes  # 2 · n_layers · B · max_len · d_model · element size


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        assert config.d_model % config.n_heads == 0, "d_model must split evenly into heads"
        self.n_heads, self.dropout = config.n_heads, config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.resid_drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, C = x.shape  # with a cache: the T newest positions
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for t in self.qkv(x).split(C, dim=2))
        if cache is not None:
            k, v = cache.append(layer, k, v)  # (B, H, S, Dh): every position so far
        S = k.size(2)
        # query i is position S-T+i: the causal triangle shifted right by S-T; one new token sees every key
        mask = None if T == 1 or T == S else torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=T == S and T > 1, dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, T, Dh)
        return self.resid_drop(self.proj(y.transpose(1, 2).contiguous().view(B, T, C)))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.d_model)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache, layer)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.block_size, config.d_model)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # tied
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def new_cache(self, batch_size: int, max_len: int) -> KVCache:
        """An empty cache for `batch_size` sequences of up to `max_len` positions, in the weights' dtype and device."""
        cfg, weight = self.config, self.tok_emb.weight
        head_dim = cfg.d_model // cfg.n_heads
        return KVCache(cfg.n_layers, batch_size, cfg.n_heads, max_len, head_dim, dtype=weight.dtype, device=weight.device)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T = idx.shape  # with a cache: the T newest tokens
        start = cache.length if cache is not None else 0  # their positions are start .. start+T-1
        if start + T > self.config.block_size:
            raise ValueError(f"position {start + T - 1} is past block_size={self.config.block_size}")
        x = self.drop(self.tok_emb(idx) + self.pos_emb(torch.arange(start, start + T, device=idx.device)))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        if cache is not None:
            cache.advance(T)  # once, after every layer has appended
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None if targets is None else F.cross_entropy(logits.view(B * T, -1).float(), targets.reshape(B * T))
        return logits, loss
