MISCONCEPTION = "grows faster than T"


def flash_attention_forward(q, k, v, causal=False, block_q=64, block_k=64):
    # Pass 1: the online max and sum, remembering every score tile; pass 2: normalise the stored tiles.
    B, H, T, D = q.shape
    S = k.size(-2)
    scale = 1.0 / math.sqrt(D)
    acc = torch.promote_types(q.dtype, torch.float32)
    out = torch.empty_like(q)
    lse = torch.empty(B, H, T, dtype=acc)
    stored = {}  # (i0, j0) -> score tile, for the second pass
    for i0 in range(0, T, block_q):
        i1 = min(i0 + block_q, T)
        qi = q[:, :, i0:i1].to(acc)
        m = torch.full((B, H, i1 - i0), float("-inf"), dtype=acc)
        l = torch.zeros(B, H, i1 - i0, dtype=acc)
        for j0 in range(0, min(S, i1) if causal else S, block_k):
            j1 = min(j0 + block_k, S)
            s = (qi @ k[:, :, j0:j1].to(acc).transpose(-2, -1)) * scale
            if causal:
                rows = torch.arange(i0, i1)[:, None]
                cols = torch.arange(j0, j1)[None, :]
                s = s.masked_fill(cols > rows, float("-inf"))
            stored[i0, j0] = s
            m_new = torch.maximum(m, s.amax(-1))
            l = torch.exp(m - m_new) * l + torch.exp(s - m_new[..., None]).sum(-1)
            m = m_new
        lse[:, :, i0:i1] = m + torch.log(l)
    for i0 in range(0, T, block_q):
        i1 = min(i0 + block_q, T)
        o = torch.zeros(B, H, i1 - i0, D, dtype=acc)
        for (b0, j0), s in stored.items():
            if b0 == i0:
                o = o + torch.exp(s - lse[:, :, i0:i1, None]) @ v[:, :, j0:j0 + s.size(-1)].to(acc)
        out[:, :, i0:i1] = o.to(q.dtype)
    return out, lse
