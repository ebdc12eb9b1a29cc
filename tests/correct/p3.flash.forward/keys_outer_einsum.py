"""FlashAttention-1's loop order: key/value tiles outside, query blocks inside, with m, l and o kept
for every row (all O(T·D)); einsum for the products and torch.where for the causal mask."""


def flash_attention_forward(q, k, v, causal=False, block_q=64, block_k=64):
    B, H, T, D = q.shape
    S = k.shape[2]
    acc = torch.float64 if q.dtype == torch.float64 else torch.float32
    m = torch.full((B, H, T, 1), -torch.inf, dtype=acc)
    l = torch.zeros(B, H, T, 1, dtype=acc)
    o = torch.zeros(B, H, T, D, dtype=acc)
    for j0 in range(0, S, block_k):
        kj, vj = k[:, :, j0:j0 + block_k].to(acc), v[:, :, j0:j0 + block_k].to(acc)
        for i0 in range(j0 if causal else 0, T, block_q):  # causal: queries before j0 see none of these keys
            sl = slice(i0, i0 + block_q)
            s = torch.einsum("bhtd,bhsd->bhts", q[:, :, sl].to(acc), kj) / D**0.5
            if causal:
                qpos = torch.arange(i0, i0 + s.shape[2]).view(-1, 1)
                kpos = torch.arange(j0, j0 + s.shape[3]).view(1, -1)
                s = torch.where(kpos <= qpos, s, -torch.inf)
            m_tile = s.max(dim=-1, keepdim=True).values
            m_new = torch.maximum(m[:, :, sl], m_tile)
            p = torch.exp(s - m_new)  # every row here sees key j0 at least: m_new is finite
            alpha = torch.exp(m[:, :, sl] - m_new)
            l[:, :, sl] = alpha * l[:, :, sl] + p.sum(-1, keepdim=True)
            o[:, :, sl] = alpha * o[:, :, sl] + torch.einsum("bhts,bhsd->bhtd", p, vj)
            m[:, :, sl] = m_new
    out = (o / l).to(q.dtype)
    return out, (m + l.log()).squeeze(-1)
