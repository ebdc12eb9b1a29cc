MISCONCEPTION = "is causal exactly when asked"


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.n_heads = n_heads  # causal is accepted and forgotten
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (split_heads(t, self.n_heads) for t in self.qkv(x).split(C, dim=2))
        return self.proj(merge_heads(scaled_dot_product_attention(q, k, v)))
