MISCONCEPTION = "fill them with -inf before the softmax"


def causal_attention(q, k, v):
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    scores = scores.masked_fill(~causal_mask(T, device=q.device), 0.0)  # a score of 0 still gets weight
    return torch.softmax(scores, dim=-1) @ v
