MISCONCEPTION = "grows with the number of keys"


def flash_attention_forward(q, k, v, causal=False, block_q=64, block_k=64):
    # Tiles over the queries only: each block of queries gets its full row of S scores and an
    # ordinary softmax. Memory-light in T, but a (block_q, S) strip is no (block_q, block_k) tile.
    B, H, T, D = q.shape
    S = k.size(-2)
    acc = torch.promote_types(q.dtype, torch.float32)
    out = torch.empty_like(q)
    lse = torch.empty(B, H, T, dtype=acc)
    for i0 in range(0, T, block_q):
        i1 = min(i0 + block_q, T)
        s = (q[:, :, i0:i1].to(acc) @ k.to(acc).transpose(-2, -1)) / math.sqrt(D)  # (B, H, bq, S)
        if causal:
            rows = torch.arange(i0, i1)[:, None]
            s = s.masked_fill(torch.arange(S)[None, :] > rows, float("-inf"))
        out[:, :, i0:i1] = (torch.softmax(s, dim=-1) @ v.to(acc)).to(q.dtype)
        lse[:, :, i0:i1] = torch.logsumexp(s, dim=-1)
    return out, lse
