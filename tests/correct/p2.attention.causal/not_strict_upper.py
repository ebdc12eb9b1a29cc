# The mask as the complement of the strictly upper triangle (the future), built with triu(diagonal=1) and
# logical_not; causal_attention keyword-passes q, k, v and takes T from k's shape (the same as q's here).


def causal_mask(T, device=None):
    future = torch.triu(torch.ones((T, T), dtype=torch.bool, device=device), diagonal=1)  # j > t
    return torch.logical_not(future)


def causal_attention(q, k, v):
    return scaled_dot_product_attention(q=q, k=k, v=v, mask=causal_mask(k.size(2), device=k.device))
