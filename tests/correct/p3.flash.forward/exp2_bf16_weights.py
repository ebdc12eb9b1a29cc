"""FlashAttention-2's arithmetic: scores in log2 units with exp2, and the weights rounded to the
input dtype before P @ V (what tensor cores take); the running sums stay in float32."""

LOG2E = 1.4426950408889634


def flash_attention_forward(q, k, v, causal=False, block_q=64, block_k=64):
    B, H, T, D = q.shape
    S = k.size(-2)
    acc = torch.float64 if q.dtype == torch.float64 else torch.float32
    scale2 = LOG2E / math.sqrt(D)  # s · log2(e): exp(s) = exp2(s · log2 e)
    out = torch.empty_like(q)
    lse = torch.empty(B, H, T, dtype=acc)
    for i0 in range(0, T, block_q):
        i1 = min(T, i0 + block_q)
        qi = q[:, :, i0:i1].to(acc) * scale2
        m2 = torch.full((B, H, i1 - i0, 1), float("-inf"), dtype=acc)
        l = torch.zeros(B, H, i1 - i0, 1, dtype=acc)
        o = torch.zeros(B, H, i1 - i0, D, dtype=acc)
        stop = min(S, i1) if causal else S
        for j0 in range(0, stop, block_k):
            j1 = min(S, j0 + block_k)
            s2 = qi @ k[:, :, j0:j1].to(acc).mT  # (B, H, bq, bk) in log2 units
            if causal and j1 > i0 + 1:
                future = torch.arange(j0, j1)[None, :] > torch.arange(i0, i1)[:, None]
                s2 = s2.masked_fill(future, float("-inf"))
            m2_new = torch.maximum(m2, s2.amax(-1, keepdim=True))
            p = torch.exp2(s2 - m2_new)
            correction = torch.exp2(m2 - m2_new)
            l = l * correction + p.sum(-1, keepdim=True)
            o = o * correction + (p.to(v.dtype) @ v[:, :, j0:j1]).to(acc)  # weights in v's dtype
            m2 = m2_new
        out[:, :, i0:i1] = (o / l).to(q.dtype)
        lse[:, :, i0:i1] = ((m2 + torch.log2(l)) / LOG2E).squeeze(-1)  # back to natural log
    return out, lse
