MISCONCEPTION = "masked keys still get weight"


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, 0.0)  # e^0 = 1: still counted
    return torch.softmax(scores, dim=-1) @ v
