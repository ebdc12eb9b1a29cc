"""Phase 3 · The KV cache: decoding one token at a time (reference).

The Phase 2 GPT (pre-norm blocks, causal multi-head attention, learned positions, tied head, the
same module names), whose forward also takes a KVCache: the keys and values of every position seen
so far, so that each new token costs one position's work instead of the whole prefix's.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

# -- p3.kvcache.cache ---------------------------------------------------------------------------


class KVCache:
    """Keys and values of every layer for the positions decoded so far, allocated once.

    k, v: (n_layers, batch_size, n_heads, max_len, head_dim) each; positions 0..length-1 are filled.
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
        # views into the buffers: the prefix is read where it lies, not copied
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]  # each (B, H, end, Dh)

    def advance(self, T: int) -> None:
        self.length += T  # once per forward, after every layer has appended its T positions

    def reset(self) -> None:
        self.length = 0  # old entries stay in the buffers, unread, until append overwrites them

    def nbytes(self) -> int:
        return self.k.nbytes + self.v.nbytes  # 2 · n_layers · B · max_len · d_model · element size


# -- the model: the Phase 2 GPT with a cache threaded through -----------------------------------


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
        B, T, C = x.shape  # with a cache: the T newest positions, start .. start+T-1
        q, k, v = (split_heads(t, self.n_heads) for t in self.qkv(x).split(C, dim=2))  # each (B, H, T, Dh)
        if cache is not None:
            k, v = cache.append(layer, k, v)  # each (B, H, S, Dh): every position so far, S = start + T
        S = k.size(2)
        # query i is position S-T+i and sees keys 0..S-T+i: the causal triangle shifted right by S-T.
        # One new token (T = 1) sees every key, so its mask would be all True.
        mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T) if T > 1 else None
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
        B, T = idx.shape  # with a cache: the T newest tokens
        start = cache.length if cache is not None else 0  # their positions are start .. start+T-1
        assert start + T <= self.config.block_size, f"position {start + T - 1} is past block_size"
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(start, start + T, device=idx.device))  # (B, T, C)
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)  # each layer appends its own keys and values
        if cache is not None:
            cache.advance(T)  # once, after every layer has appended: the next token goes to start+T
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


@torch.no_grad()  # no graph: with one, every step's activations would stay alive through the cache
def generate(model: GPT, prompt_ids: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    B, P = prompt_ids.shape
    cfg = model.config
    cache = KVCache(
        cfg.n_layers, B, cfg.n_heads, P + max_new_tokens, cfg.d_model // cfg.n_heads,
        dtype=model.tok_emb.weight.dtype, device=prompt_ids.device,
    )  # fmt: skip
    out = torch.empty(B, P + max_new_tokens, dtype=torch.long, device=prompt_ids.device)
    out[:, :P] = prompt_ids
    if max_new_tokens == 0:
        return out
    logits, _ = model(prompt_ids, cache=cache)  # prefill: the whole prompt in one forward, (B, P, V)
    for t in range(P, P + max_new_tokens):
        out[:, t] = logits[:, -1].argmax(dim=-1)  # (B,): the last position predicts the next token
        if t + 1 < P + max_new_tokens:  # the last token is returned, never fed back
            logits, _ = model(out[:, t : t + 1], cache=cache)  # decode: one position, (B, 1, V)
    return out
