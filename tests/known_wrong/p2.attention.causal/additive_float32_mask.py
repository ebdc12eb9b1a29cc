MISCONCEPTION = "float16 in, float16 out"


def causal_attention(q, k, v):
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    scores = scores + (~causal_mask(T, device=q.device)) * -1e9  # a float32 tensor: promotes float16 scores
    return torch.softmax(scores, dim=-1) @ v
