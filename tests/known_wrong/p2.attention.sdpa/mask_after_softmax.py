MISCONCEPTION = "the mask is applied after the softmax"


def scaled_dot_product_attention(q, k, v, mask=None):
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)  # too late: the rows no longer sum to 1
    return weights @ v
