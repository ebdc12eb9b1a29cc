"""Another route to D_i: a first pass over the tiles sums P ∘ dP per row (the definition of D_i),
a second pass computes the gradients. Saves only q, k, v and lse: out is never needed."""


class FlashAttentionFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal=False, block_q=64, block_k=64):
        out, lse = flash_attention_forward(q, k, v, causal, block_q, block_k)
        ctx.save_for_backward(q, k, v, lse)
        ctx.causal, ctx.block_q, ctx.block_k = causal, block_q, block_k
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, lse = ctx.saved_tensors
        B, H, T, D = q.shape
        S = k.shape[-2]
        acc, scale = lse.dtype, D**-0.5

        def tiles():
            for i0 in range(0, T, ctx.block_q):
                i1 = min(T, i0 + ctx.block_q)
                for j0 in range(0, min(S, i1) if ctx.causal else S, ctx.block_k):
                    j1 = min(S, j0 + ctx.block_k)
                    qi, kj, vj = q[:, :, i0:i1].to(acc), k[:, :, j0:j1].to(acc), v[:, :, j0:j1].to(acc)
                    s = qi @ kj.mT * scale
                    if ctx.causal:
                        s = s.masked_fill(torch.arange(j0, j1) > torch.arange(i0, i1)[:, None], float("-inf"))
                    p = torch.exp(s - lse[:, :, i0:i1].unsqueeze(-1))
                    doi = dout[:, :, i0:i1].to(acc)
                    yield i0, i1, j0, j1, qi, kj, p, doi, doi @ vj.mT

        delta = torch.zeros(B, H, T, dtype=acc)
        for i0, i1, _, _, _, _, p, _, dp in tiles():  # pass 1: D_i = Σ_j P_ij dP_ij
            delta[:, :, i0:i1] += (p * dp).sum(-1)
        dq, dk, dv = (torch.zeros(t.shape, dtype=acc) for t in (q, k, v))
        for i0, i1, j0, j1, qi, kj, p, doi, dp in tiles():  # pass 2: the gradients
            ds = p * (dp - delta[:, :, i0:i1].unsqueeze(-1)) * scale
            dv[:, :, j0:j1] += p.mT @ doi
            dq[:, :, i0:i1] += ds @ kj
            dk[:, :, j0:j1] += ds.mT @ qi
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None, None, None
