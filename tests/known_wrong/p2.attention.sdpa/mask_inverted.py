MISCONCEPTION = "the mask is inverted"


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))  # hides the keys it should keep
    return torch.softmax(scores, dim=-1) @ v
