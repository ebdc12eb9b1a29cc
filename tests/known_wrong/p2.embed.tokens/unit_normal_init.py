MISCONCEPTION = "std 0.02"


class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(vocab_size, d_model))  # nn.Embedding's N(0, 1)

    def forward(self, ids):
        return self.weight[ids]
