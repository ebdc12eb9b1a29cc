MISCONCEPTION = "the output projection is missing"


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.n_heads, self.causal = n_heads, causal
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)  # defined, never used

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (split_heads(t, self.n_heads) for t in self.qkv(x).split(C, dim=2))
        y = causal_attention(q, k, v) if self.causal else scaled_dot_product_attention(q, k, v)
        return merge_heads(y)
