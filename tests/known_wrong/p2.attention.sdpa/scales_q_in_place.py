MISCONCEPTION = "modified its inputs in place"


def scaled_dot_product_attention(q, k, v, mask=None):
    q /= math.sqrt(q.size(-1))  # changes the caller's tensor
    scores = q @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v
