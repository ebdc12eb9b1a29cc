"""No causal tile skipping (it is optional): every tile is visited and the mask does the work; the
gradients are accumulated in float64 whatever the inputs."""


class FlashAttentionFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal=False, block_q=64, block_k=64):
        out, lse = flash_attention_forward(q, k, v, causal, block_q, block_k)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.causal = causal
        ctx.blocks = block_q, block_k
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse = (t.double() for t in ctx.saved_tensors)
        g = dout.double()
        bq, bk = ctx.blocks
        T, S, D = q.size(2), k.size(2), q.size(3)
        delta = (g * out).sum(dim=-1, keepdim=True)  # (B, H, T, 1)
        dq, dk, dv = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
        for i0 in range(0, T, bq):
            for j0 in range(0, S, bk):
                s = q[:, :, i0:i0 + bq] @ k[:, :, j0:j0 + bk].transpose(2, 3) / math.sqrt(D)
                if ctx.causal:
                    rows = torch.arange(i0, i0 + s.size(2)).unsqueeze(1)
                    cols = torch.arange(j0, j0 + s.size(3)).unsqueeze(0)
                    s = s.masked_fill(cols > rows, -math.inf)  # a tile wholly in the future gives p = 0
                p = (s - lse[:, :, i0:i0 + bq].unsqueeze(-1)).exp()
                gi = g[:, :, i0:i0 + bq]
                dv[:, :, j0:j0 + bk] += p.transpose(2, 3) @ gi
                ds = p * (gi @ v[:, :, j0:j0 + bk].transpose(2, 3) - delta[:, :, i0:i0 + bq])
                dq[:, :, i0:i0 + bq] += ds @ k[:, :, j0:j0 + bk] / math.sqrt(D)
                dk[:, :, j0:j0 + bk] += ds.transpose(2, 3) @ q[:, :, i0:i0 + bq] / math.sqrt(D)
        return dq.to(dout.dtype), dk.to(dout.dtype), dv.to(dout.dtype), None, None, None
