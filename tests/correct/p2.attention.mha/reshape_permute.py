# reshape and permute instead of view and transpose (reshape copies by itself when the memory needs it), q, k
# and v cut with chunk, and the attention chosen by an if in forward.


def split_heads(x, n_heads):
    B, T, C = x.shape
    return x.reshape(B, T, n_heads, C // n_heads).permute(0, 2, 1, 3)  # (B, H, T, Dh)


def merge_heads(x):
    B, H, T, Dh = x.shape
    return x.permute(0, 2, 1, 3).reshape(B, T, H * Dh)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model = {d_model} does not split into {n_heads} heads")
        self.heads = n_heads
        self.causal = causal
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = split_heads(q, self.heads)
        k = split_heads(k, self.heads)
        v = split_heads(v, self.heads)
        if self.causal:
            y = causal_attention(q, k, v)
        else:
            y = scaled_dot_product_attention(q, k, v)
        return self.proj(merge_heads(y))
