MISCONCEPTION = "grows faster than T"


def flash_attention_forward(q, k, v, causal=False, block_q=64, block_k=64):
    # "Tiled", but every tile is cut out of the full (T, S) score matrix computed up front.
    B, H, T, D = q.shape
    S = k.size(-2)
    acc = torch.promote_types(q.dtype, torch.float32)
    scores = (q.to(acc) @ k.to(acc).transpose(-2, -1)) / math.sqrt(D)  # (B, H, T, S): the matrix to avoid
    if causal:
        scores = scores.masked_fill(torch.ones(T, S, dtype=torch.bool).triu(1), float("-inf"))
    out = torch.empty_like(q)
    lse = torch.empty(B, H, T, dtype=acc)
    for i0 in range(0, T, block_q):
        i1 = min(i0 + block_q, T)
        m = torch.full((B, H, i1 - i0), float("-inf"), dtype=acc)
        l = torch.zeros(B, H, i1 - i0, dtype=acc)
        o = torch.zeros(B, H, i1 - i0, D, dtype=acc)
        for j0 in range(0, S, block_k):
            j1 = min(j0 + block_k, S)
            s = scores[:, :, i0:i1, j0:j1]
            m_new = torch.maximum(m, s.amax(-1))
            alpha = torch.exp(m - m_new)
            p = torch.exp(s - m_new[..., None])
            l = alpha * l + p.sum(-1)
            o = alpha[..., None] * o + p @ v[:, :, j0:j1].to(acc)
            m = m_new
        out[:, :, i0:i1] = (o / l[..., None]).to(q.dtype)
        lse[:, :, i0:i1] = m + torch.log(l)
    return out, lse
