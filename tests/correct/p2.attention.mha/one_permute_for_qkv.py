# The fused projection unflattened once to (B, T, 3, H, Dh) and permuted to (3, B, H, T, Dh), so q, k and v
# come out with their heads already split; split_heads with unflatten, merge_heads with flatten.


def split_heads(x, n_heads):
    return x.unflatten(-1, (n_heads, -1)).transpose(1, 2)


def merge_heads(x):
    return x.transpose(1, 2).flatten(start_dim=2)  # flatten copies: the transposed axes are not adjacent in memory


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        assert d_model % n_heads == 0, (d_model, n_heads)
        self.n_heads = n_heads
        self.causal = bool(causal)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_heads, C // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, H, T, Dh)
        y = causal_attention(q, k, v) if self.causal else scaled_dot_product_attention(q, k, v)
        return self.proj(merge_heads(y))
