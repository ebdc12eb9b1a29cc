# Layers kept as nn.Linear but applied through F.linear with their weights, F.gelu(approximate="tanh") and
# F.silu called directly, and the block's sublayers walked in a loop over (norm, sublayer) pairs.


class MLP(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.fc = nn.Linear(d_model, d_model * 4)
        self.proj = nn.Linear(d_model * 4, d_model)

    def forward(self, x):
        hidden = F.gelu(F.linear(x, self.fc.weight, self.fc.bias), approximate="tanh")
        return F.linear(hidden, self.proj.weight, self.proj.bias)


class SwiGLU(nn.Module):
    def __init__(self, d_model, hidden):
        super().__init__()
        self.gate, self.up = (nn.Linear(d_model, hidden, bias=False) for _ in range(2))
        self.down = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x):
        passed = F.silu(F.linear(x, self.gate.weight))  # how much of each hidden unit gets through
        value = F.linear(x, self.up.weight)
        return F.linear(passed * value, self.down.weight)


class Block(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, causal=causal)
        self.mlp = MLP(d_model)

    def forward(self, x):
        for norm, sublayer in ((self.ln1, self.attn), (self.ln2, self.mlp)):  # attention first, then the MLP
            x = x + sublayer(norm(x))
        return x
