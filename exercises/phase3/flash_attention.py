"""Flash Attention: attention over key/value tiles with an online softmax.

Shapes: B batch, H heads, T queries, S keys, D head size; q (B, H, T, D), k and v (B, H, S, D).
causal=True (self-attention, S == T): query i sees only keys j <= i, as in naive_attention below.

p3.flash.forward: `flash_attention_forward(q, k, v, causal=False, block_q=64, block_k=64)` -> (out, lse)
  - Walk the queries in blocks of block_q rows and, for each block, the keys in tiles of block_k;
    compute one (block_q, block_k) tile of scores q kᵀ / sqrt(D) at a time and never hold more:
    no (T, S) matrix, no list of every tile's weights, no full row of S scores.
  - Keep per query row a running max m (starting at -inf), a running sum l of exp(s - m) and a
    running output o = Σ exp(s - m) v; when a tile raises the max, rescale l and o by exp(m_old - m_new).
    Divide o by l once, after the last tile.
  - out (B, H, T, D) in q's dtype; lse (B, H, T) = log Σ_j exp(s_ij) over the scaled (masked) scores.
  - bfloat16/float16 inputs: scores, m, l, o and lse in float32; lse stays float32, out is cast back.
    float32 inputs compute in float32, float64 inputs in float64 (lse float64 too).
  - block sizes need not divide T or S; blocks of 1 and blocks larger than T both work.
  - Leave q, k and v unchanged; write it from matmuls and exp, not F.scaled_dot_product_attention.

p3.flash.backward: `FlashAttentionFunction` (a torch.autograd.Function) and `flash_attention`.
  - forward(ctx, q, k, v, causal=False, block_q=64, block_k=64): call your flash_attention_forward,
    save only q, k, v, out and lse (ctx.save_for_backward), keep causal and the block sizes on ctx.
  - backward(ctx, dout): (dq, dk, dv, None, None, None). Recompute each tile's weights from the
    saved lse, P = exp(s - lse), tile by tile, with D_i = rowsum(dO ∘ O) computed once:
        dV += Pᵀ dO    dP = dO Vᵀ    dS = P ∘ (dP - D_i)    dQ += dS K / sqrt(D)    dK += dSᵀ Q / sqrt(D)
  - Gradients in the inputs' dtypes; nothing with T·S numbers is kept between forward and backward.
  - flash_attention(q, k, v, causal=False, block_q=64, block_k=64) returns FlashAttentionFunction.apply(...).

Pointer: the FlashAttention paper (Dao et al., 2022), Algorithm 1, is this loop; torch.logsumexp and
F.scaled_dot_product_attention are what the grader compares with.
"""

import math

import torch


def naive_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """softmax(q kᵀ / sqrt(D)) v with the whole (T, S) score matrix in memory: the baseline to beat.

    Given complete. q (B, H, T, D), k and v (B, H, S, D); causal (T == S): query i sees keys j <= i.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, T, S): T·S numbers per head
    if causal:
        T, S = scores.shape[-2:]
        future = torch.ones(T, S, dtype=torch.bool, device=q.device).triu(1)  # key j > query i
        scores = scores.masked_fill(future, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


# -- p3.flash.forward ---------------------------------------------------------------------------


def flash_attention_forward(q, k, v, causal=False, block_q=64, block_k=64):
    """Attention one (block_q, block_k) tile of scores at a time, in one pass over the keys.

    Returns (out, lse): out (B, H, T, D) in q's dtype, lse (B, H, T) = logsumexp_j of the scaled
    (masked) scores, in float32 (float64 for float64 inputs).
    """
    raise NotImplementedError


# -- p3.flash.backward --------------------------------------------------------------------------


class FlashAttentionFunction(torch.autograd.Function):
    """Flash attention whose backward recomputes the weights tile by tile as exp(s - lse)."""

    @staticmethod
    def forward(ctx, q, k, v, causal=False, block_q=64, block_k=64):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, dout):
        raise NotImplementedError


def flash_attention(q, k, v, causal=False, block_q=64, block_k=64):
    """Differentiable flash attention: out (B, H, T, D), with a backward that keeps no (T, S) matrix."""
    raise NotImplementedError
