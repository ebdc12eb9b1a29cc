"""Flash Attention: attention computed tile by tile with an online softmax, forward
(p3.flash.forward) and a backward that recomputes the weights from the log-sum-exp (p3.flash.backward).

Shapes: B batch, H heads, T queries, S keys, D head size; q (B, H, T, D), k and v (B, H, S, D).
A (block_q, block_k) tile of scores is the largest thing either pass holds beyond q, k, v and the
results, so memory grows like T·D, not T·S. Scores, maxima and sums are kept in float32 (float64 for
float64 inputs); only the output is rounded back to the input's dtype.
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


def flash_attention_forward(q, k, v, causal=False, block_q=64, block_k=64):
    """Attention one (block_q, block_k) tile of scores at a time, in one pass over the keys.

    Returns (out, lse): out (B, H, T, D) in q's dtype, lse (B, H, T) = logsumexp_j of the scaled
    (masked) scores, in float32 (float64 for float64 inputs).
    """
    B, H, T, D = q.shape
    S = k.size(-2)
    scale = 1.0 / math.sqrt(D)
    acc = torch.promote_types(q.dtype, torch.float32)  # bf16/fp16 -> float32; float64 stays
    out = torch.empty(B, H, T, D, dtype=q.dtype, device=q.device)
    lse = torch.empty(B, H, T, dtype=acc, device=q.device)
    for i0 in range(0, T, block_q):
        i1 = min(i0 + block_q, T)
        qi = q[:, :, i0:i1].to(acc)  # (B, H, bq, D): a copy or a view, never written to
        m = torch.full((B, H, i1 - i0), float("-inf"), dtype=acc, device=q.device)  # running row max
        l = torch.zeros(B, H, i1 - i0, dtype=acc, device=q.device)  # running Σ_j exp(s_ij - m_i)
        o = torch.zeros(B, H, i1 - i0, D, dtype=acc, device=q.device)  # running Σ_j exp(s_ij - m_i) v_j
        last = min(S, i1) if causal else S  # causal: key tiles from i1 on are all in the block's future
        for j0 in range(0, last, block_k):
            j1 = min(j0 + block_k, S)
            s = (qi @ k[:, :, j0:j1].to(acc).transpose(-2, -1)) * scale  # (B, H, bq, bk): the only score tile
            if causal and j1 - 1 > i0:  # the tile reaches above the diagonal: global positions decide
                rows = torch.arange(i0, i1, device=q.device)[:, None]  # (bq, 1) query positions
                cols = torch.arange(j0, j1, device=q.device)[None, :]  # (1, bk) key positions
                s = s.masked_fill(cols > rows, float("-inf"))
            m_new = torch.maximum(m, s.amax(dim=-1))  # finite: key 0 lies in every row's first tile
            alpha = torch.exp(m - m_new)  # (B, H, bq): 0 on the first tile, 1 while the max stays
            p = torch.exp(s - m_new[..., None])  # (B, H, bq, bk), each <= 1, 0 where masked
            l = alpha * l + p.sum(dim=-1)  # old sums are rescaled to the new max ...
            o = alpha[..., None] * o + p @ v[:, :, j0:j1].to(acc)  # ... and so is the old output
            m = m_new
        out[:, :, i0:i1] = (o / l[..., None]).to(q.dtype)  # normalise once, after the last tile
        lse[:, :, i0:i1] = m + torch.log(l)  # log Σ_j exp(s_ij) = m_i + log l_i
    return out, lse


# -- p3.flash.backward --------------------------------------------------------------------------


class FlashAttentionFunction(torch.autograd.Function):
    """Flash attention whose backward recomputes the weights tile by tile as exp(s - lse)."""

    @staticmethod
    def forward(ctx, q, k, v, causal=False, block_q=64, block_k=64):
        out, lse = flash_attention_forward(q, k, v, causal, block_q, block_k)
        ctx.save_for_backward(q, k, v, out, lse)  # O((T + S)·D) numbers: no (T, S) matrix survives
        ctx.causal, ctx.block_q, ctx.block_k = causal, block_q, block_k
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse = ctx.saved_tensors
        causal, block_q, block_k = ctx.causal, ctx.block_q, ctx.block_k
        B, H, T, D = q.shape
        S = k.size(-2)
        scale = 1.0 / math.sqrt(D)
        acc = lse.dtype
        dq = torch.zeros(B, H, T, D, dtype=acc, device=q.device)
        dk = torch.zeros(B, H, S, D, dtype=acc, device=q.device)
        dv = torch.zeros(B, H, S, D, dtype=acc, device=q.device)
        delta = (dout.to(acc) * out.to(acc)).sum(dim=-1)  # (B, H, T): D_i = Σ_j P_ij dP_ij = dO_i · O_i
        for i0 in range(0, T, block_q):
            i1 = min(i0 + block_q, T)
            qi, doi = q[:, :, i0:i1].to(acc), dout[:, :, i0:i1].to(acc)  # (B, H, bq, D)
            lse_i, delta_i = lse[:, :, i0:i1, None], delta[:, :, i0:i1, None]  # (B, H, bq, 1)
            last = min(S, i1) if causal else S  # the forward's tiles, no others
            for j0 in range(0, last, block_k):
                j1 = min(j0 + block_k, S)
                kj, vj = k[:, :, j0:j1].to(acc), v[:, :, j0:j1].to(acc)  # (B, H, bk, D)
                s = (qi @ kj.transpose(-2, -1)) * scale  # (B, H, bq, bk), masked as in the forward
                if causal and j1 - 1 > i0:
                    rows = torch.arange(i0, i1, device=q.device)[:, None]
                    cols = torch.arange(j0, j1, device=q.device)[None, :]
                    s = s.masked_fill(cols > rows, float("-inf"))
                p = torch.exp(s - lse_i)  # the forward's weights, recomputed: exp(s - lse)
                dv[:, :, j0:j1] += p.transpose(-2, -1) @ doi  # dV = Pᵀ dO
                dp = doi @ vj.transpose(-2, -1)  # (B, H, bq, bk): dP = dO Vᵀ
                ds = p * (dp - delta_i)  # softmax backward: dS = P ∘ (dP - D_i)
                dq[:, :, i0:i1] += (ds @ kj) * scale  # dQ = dS K / sqrt(D)
                dk[:, :, j0:j1] += (ds.transpose(-2, -1) @ qi) * scale  # dK = dSᵀ Q / sqrt(D)
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None, None, None


def flash_attention(q, k, v, causal=False, block_q=64, block_k=64):
    """Differentiable flash attention: out (B, H, T, D), with a backward that keeps no (T, S) matrix."""
    return FlashAttentionFunction.apply(q, k, v, causal, block_q, block_k)
