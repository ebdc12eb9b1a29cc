"""Another dtype strategy: every tile computed in float64 whatever the inputs, lse handed back in
float32 (float64 for float64 inputs)."""


def flash_attention_forward(q, k, v, causal=False, block_q=64, block_k=64):
    B, H, T, D = q.shape
    S = k.shape[-2]
    lse_dtype = torch.float64 if q.dtype == torch.float64 else torch.float32
    out = q.new_empty(q.shape)
    lse = torch.empty(B, H, T, dtype=lse_dtype)
    for i0 in range(0, T, block_q):
        rows = torch.arange(i0, min(i0 + block_q, T))
        qi = q[:, :, rows].double() / math.sqrt(D)
        m = qi.new_full(qi.shape[:-1], -math.inf)
        l = qi.new_zeros(qi.shape[:-1])
        o = qi.new_zeros(qi.shape)
        for j0 in range(0, S, block_k):
            cols = torch.arange(j0, min(j0 + block_k, S))
            if causal and j0 > rows[-1]:
                break  # this tile and every later one lie in the future of the whole block
            s = qi @ k[:, :, cols].double().transpose(-2, -1)
            if causal:
                s = s.masked_fill(cols[None, :] > rows[:, None], -math.inf)
            new_m = torch.max(m, s.max(-1).values)
            w = (s - new_m.unsqueeze(-1)).exp()
            shrink = (m - new_m).exp()
            l = l * shrink + w.sum(-1)
            o = o * shrink.unsqueeze(-1) + w @ v[:, :, cols].double()
            m = new_m
        out[:, :, rows] = (o / l.unsqueeze(-1)).to(q.dtype)
        lse[:, :, rows] = (m + l.log()).to(lse_dtype)
    return out, lse
