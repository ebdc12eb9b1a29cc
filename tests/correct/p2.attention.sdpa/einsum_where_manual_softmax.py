# Scores with einsum and the scale folded into q (a new tensor), the mask applied with torch.where, and the
# softmax written out: subtract the row maximum, exponentiate, divide by the row sum.


def scaled_dot_product_attention(q, k, v, mask=None):
    q_scaled = q * (q.shape[-1] ** -0.5)
    scores = torch.einsum("bhtd,bhsd->bhts", q_scaled, k)
    if mask is not None:
        scores = torch.where(mask, scores, torch.full((), float("-inf"), dtype=scores.dtype, device=scores.device))
    shifted = scores - scores.amax(dim=-1, keepdim=True)  # the largest score of every row becomes 0: no overflow
    e = shifted.exp()
    weights = e / e.sum(dim=-1, keepdim=True)
    return torch.einsum("bhts,bhsd->bhtd", weights, v)
