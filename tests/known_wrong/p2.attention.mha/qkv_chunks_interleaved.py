MISCONCEPTION = "split into three (B, T, C) tensors in that order"


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.n_heads, self.causal = n_heads, causal
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, C, 3)  # reads q, k, v as interleaved columns, not as three blocks
        q, k, v = (split_heads(qkv[..., i], self.n_heads) for i in range(3))
        y = causal_attention(q, k, v) if self.causal else scaled_dot_product_attention(q, k, v)
        return self.proj(merge_heads(y))
