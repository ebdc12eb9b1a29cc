"""Phase 3 · The KV cache: decoding one token at a time.

Two steps fill this file:
  p3.kvcache.cache     KVCache, and the cached paths of CausalSelfAttention.forward and GPT.forward
  p3.kvcache.generate  generate, greedy decoding with the cache

The model is the Phase 2 GPT (the same module names, so its weights load here), given complete for
the full forward: pre-norm blocks, causal multi-head attention, learned positions, a tied head.
A forward with `cache=` runs only the T NEWEST tokens, at positions cache.length .. cache.length+T-1:
each layer writes their keys and values into its slot of the cache and attends over every position
cached so far; the cache's length then moves on by T, once.

Shapes: B batch, H heads, T new positions, S = cache.length + T keys, Dh = d_model // n_heads.
KVCache.k and KVCache.v: (n_layers, B, H, max_len, Dh), allocated once in __init__ and written in
place. Their logits must equal the full forward's at every position.

Pointer: the causal mask of T new queries against S keys is `torch.ones(T, S).tril(diagonal=S - T)`.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

# -- p3.kvcache.cache ---------------------------------------------------------------------------


class KVCache:
    """Keys and values of every layer for the positions decoded so far, allocated once.

    Attributes:
      k, v     tensors of shape (n_layers, batch_size, n_heads, max_len, head_dim), zeros at first,
               in `dtype` on `device`; position p of layer l is k[l, :, :, p]
      max_len  the number of positions the cache holds
      length   an int: how many positions every layer holds so far (0 at first)
    """

    def __init__(
        self,
        n_layers: int,
        batch_size: int,
        n_heads: int,
        max_len: int,
        head_dim: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ):
        raise NotImplementedError

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k, v (B, H, T, Dh) into `layer`'s slot at positions length .. length+T-1, and return
        that layer's keys and values of positions 0 .. length+T-1, each (B, H, length+T, Dh).

        Does not move `length` (every layer writes at the same positions). Raises ValueError, naming
        max_len, when length + T > max_len, and then writes nothing.
        """
        raise NotImplementedError

    def advance(self, T: int) -> None:
        """Move `length` on by T: called once per forward, after every layer has appended."""
        raise NotImplementedError

    def reset(self) -> None:
        """Empty the cache (length 0) without reallocating, so that a new sequence can be decoded."""
        raise NotImplementedError

    def nbytes(self) -> int:
        """Bytes of k and v together: 2 · n_layers · batch_size · max_len · (n_heads · head_dim) · element size."""
        raise NotImplementedError


# -- the model: the Phase 2 GPT, with a cache threaded through ----------------------------------


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    block_size: int = 1024  # the longest context: one learned position embedding per position
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # mask (T, S): True where a query may look
    return torch.softmax(scores, dim=-1) @ v  # (B, H, T, Dh)


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    B, T, C = x.shape
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)  # (B, H, T, Dh)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    B, H, T, Dh = x.shape
    return x.transpose(1, 2).contiguous().view(B, T, H * Dh)  # (B, T, C)


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        assert d_model % n_heads == 0, "d_model must split evenly into heads"
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)  # q, k and v projections in one matmul
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        """x: (B, T, C). With a cache: x holds the T newest positions; their keys and values go into
        the cache's slot `layer`, and each query attends over every cached position up to its own."""
        B, T, C = x.shape
        q, k, v = (split_heads(t, self.n_heads) for t in self.qkv(x).split(C, dim=2))  # each (B, H, T, Dh)
        if cache is not None:
            raise NotImplementedError  # p3.kvcache.cache: the cached path
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()  # (T, T)
        return self.proj(merge_heads(scaled_dot_product_attention(q, k, v, mask)))  # (B, T, C)


class MLP(nn.Module):
    def __init__(self, d_model: int):
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.gelu = nn.GELU(approximate="tanh")
        self.proj = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.gelu(self.fc(x)))  # (B, T, C)


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache, layer)  # (B, T, C)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.block_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config.d_model, config.n_heads) for _ in range(config.n_layers))
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

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx: (B, T) token ids. Without a cache, positions 0..T-1. With one, the T newest tokens:
        positions cache.length .. cache.length+T-1, every layer given its own index into the cache,
        and the cache advanced by T once all layers have run. Returns (logits (B, T, V), loss)."""
        if cache is not None:
            raise NotImplementedError  # p3.kvcache.cache: the cached path
        B, T = idx.shape
        assert T <= self.config.block_size, f"sequence of {T} tokens, but block_size is {self.config.block_size}"
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None if targets is None else F.cross_entropy(logits.view(B * T, -1), targets.view(B * T))
        return logits, loss


# -- p3.kvcache.generate ------------------------------------------------------------------------


@torch.no_grad()
def generate_recompute(model: GPT, prompt_ids: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Greedy decoding without a cache (given): the whole sequence goes through the model for every token."""
    ids = prompt_ids
    for _ in range(max_new_tokens):
        logits, _ = model(ids)  # (B, T, V): every position recomputed, only the last one used
        next_id = logits[:, -1].argmax(dim=-1, keepdim=True)  # (B, 1)
        ids = torch.cat([ids, next_id], dim=1)
    return ids


def generate(model: GPT, prompt_ids: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Greedy decoding with a KVCache: the same ids as generate_recompute, (B, P + max_new_tokens).

    prompt_ids: (B, P) with P >= 1 and P + max_new_tokens <= block_size. One forward of the whole
    prompt fills the cache (prefill); then each new token is one forward of a single position.
    Runs under torch.no_grad(), and leaves prompt_ids and the model unchanged.

    Pointer: the logits at the LAST position of a forward predict the next token.
    """
    raise NotImplementedError
