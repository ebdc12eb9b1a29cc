MISCONCEPTION = "D_i is not Σ_j P_ij dP_ij"


class FlashAttentionFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal=False, block_q=64, block_k=64):
        out, lse = flash_attention_forward(q, k, v, causal, block_q, block_k)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.causal, ctx.block_q, ctx.block_k = causal, block_q, block_k
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse = ctx.saved_tensors
        B, H, T, D = q.shape
        S = k.size(-2)
        scale = 1.0 / math.sqrt(D)
        acc = lse.dtype
        dq = torch.zeros(B, H, T, D, dtype=acc)
        dk = torch.zeros(B, H, S, D, dtype=acc)
        dv = torch.zeros(B, H, S, D, dtype=acc)
        delta = (dout.to(acc) * out.to(acc)).sum(-1)
        for i0 in range(0, T, ctx.block_q):
            i1 = min(i0 + ctx.block_q, T)
            qi, doi = q[:, :, i0:i1].to(acc), dout[:, :, i0:i1].to(acc)
            for j0 in range(0, min(S, i1) if ctx.causal else S, ctx.block_k):
                j1 = min(j0 + ctx.block_k, S)
                kj, vj = k[:, :, j0:j1].to(acc), v[:, :, j0:j1].to(acc)
                s = (qi @ kj.transpose(-2, -1)) * scale
                if ctx.causal:
                    rows = torch.arange(i0, i1)[:, None]
                    cols = torch.arange(j0, j1)[None, :]
                    s = s.masked_fill(cols > rows, float("-inf"))
                p = torch.exp(s - lse[:, :, i0:i1, None])
                dv[:, :, j0:j1] += p.transpose(-2, -1) @ doi
                dp = doi @ vj.transpose(-2, -1)
                ds = p * (dp - dp.sum(-1, keepdim=True))  # D_i from dP
                dq[:, :, i0:i1] += (ds @ kj) * scale
                dk[:, :, j0:j1] += (ds.transpose(-2, -1) @ qi) * scale
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None, None, None
