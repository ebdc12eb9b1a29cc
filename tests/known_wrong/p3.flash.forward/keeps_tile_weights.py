MISCONCEPTION = "grows with the number of keys"


def flash_attention_forward(q, k, v, causal=False, block_q=64, block_k=64):
    # Two passes: the first keeps every tile's exp(s - m) in a list, the second normalises them.
    B, H, T, D = q.shape
    S = k.size(-2)
    scale = 1.0 / math.sqrt(D)
    acc = torch.promote_types(q.dtype, torch.float32)
    out = torch.empty_like(q)
    lse = torch.empty(B, H, T, dtype=acc)
    for i0 in range(0, T, block_q):
        i1 = min(i0 + block_q, T)
        qi = q[:, :, i0:i1].to(acc)
        tiles, maxes = [], []
        for j0 in range(0, S, block_k):
            j1 = min(j0 + block_k, S)
            s = (qi @ k[:, :, j0:j1].to(acc).transpose(-2, -1)) * scale
            if causal:
                rows = torch.arange(i0, i1)[:, None]
                cols = torch.arange(j0, j1)[None, :]
                s = s.masked_fill(cols > rows, float("-inf"))
            tiles.append(s)  # every tile stays alive: the whole (T, S) matrix, in pieces
            maxes.append(s.amax(-1))
        m = torch.stack(maxes, -1).amax(-1)  # the true row max, known only after all tiles
        weights = [torch.exp(s - m[..., None]) for s in tiles]
        l = sum(w.sum(-1) for w in weights)
        o = sum(w @ v[:, :, j0:j0 + w.size(-1)].to(acc) for w, j0 in zip(weights, range(0, S, block_k)))
        out[:, :, i0:i1] = (o / l[..., None]).to(q.dtype)
        lse[:, :, i0:i1] = m + torch.log(l)
    return out, lse
