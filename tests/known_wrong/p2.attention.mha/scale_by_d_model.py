MISCONCEPTION = "not by sqrt(d_model)"


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.n_heads, self.causal = n_heads, causal
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (split_heads(t, self.n_heads) for t in self.qkv(x).split(C, dim=2))
        scores = q @ k.transpose(-2, -1) / math.sqrt(C)  # the model width, not the head size
        if self.causal:
            scores = scores.masked_fill(~causal_mask(T, device=x.device), float("-inf"))
        return self.proj(merge_heads(torch.softmax(scores, dim=-1) @ v))
