MISCONCEPTION = "(vocab_size, d_model)"


class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_model, vocab_size) * 0.02)  # (d, V), as in x @ W layers

    def forward(self, ids):
        return self.weight.t()[ids]
