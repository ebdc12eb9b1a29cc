MISCONCEPTION = "a residual connection is missing"


class Block(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, causal=causal)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model)

    def forward(self, x):
        x = self.attn(self.ln1(x))  # replaces the stream instead of adding to it
        x = x + self.mlp(self.ln2(x))
        return x
