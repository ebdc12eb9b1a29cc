# The mask from comparing a column of query indices with a row of key indices (j <= t by broadcasting), and
# handed to attention with two leading axes of size 1.


def causal_mask(T, device=None):
    idx = torch.arange(T, device=device)
    return idx.unsqueeze(0) <= idx.unsqueeze(1)  # [t, j] = j <= t


def causal_attention(q, k, v):
    T = q.shape[-2]
    mask = causal_mask(T, q.device)[None, None]  # (1, 1, T, T)
    return scaled_dot_product_attention(q, k, v, mask)
