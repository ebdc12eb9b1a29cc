MISCONCEPTION = "this is a post-norm block"


class Block(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, causal=causal)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model)

    def forward(self, x):
        x = self.ln1(x + self.attn(x))  # the original Transformer's order: normalizes the stream itself
        x = self.ln2(x + self.mlp(x))
        return x
