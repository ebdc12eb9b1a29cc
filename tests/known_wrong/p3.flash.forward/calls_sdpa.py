MISCONCEPTION = "calls F.scaled_dot_product_attention"

import torch.nn.functional as F


def flash_attention_forward(q, k, v, causal=False, block_q=64, block_k=64):
    # PyTorch's fused kernel for the output, and a tiled logsumexp for lse.
    B, H, T, D = q.shape
    S = k.size(-2)
    acc = torch.promote_types(q.dtype, torch.float32)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    lse = torch.empty(B, H, T, dtype=acc)
    for i0 in range(0, T, block_q):
        i1 = min(i0 + block_q, T)
        run = torch.full((B, H, i1 - i0), float("-inf"), dtype=acc)
        for j0 in range(0, S, block_k):
            j1 = min(j0 + block_k, S)
            s = (q[:, :, i0:i1].to(acc) @ k[:, :, j0:j1].to(acc).transpose(-2, -1)) / math.sqrt(D)
            if causal:
                s = s.masked_fill(torch.arange(j0, j1)[None, :] > torch.arange(i0, i1)[:, None], float("-inf"))
            run = torch.logaddexp(run, torch.logsumexp(s, dim=-1))
        lse[:, :, i0:i1] = run
    return out, lse
