MISCONCEPTION = "the largest finite float16 is 65504"


def causal_attention(q, k, v):
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    scores = scores.masked_fill(~causal_mask(T, device=q.device), -1e9)  # fine in float32, not in float16
    return torch.softmax(scores, dim=-1) @ v
