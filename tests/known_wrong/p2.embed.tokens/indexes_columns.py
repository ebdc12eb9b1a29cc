MISCONCEPTION = "wrong axis"


class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(vocab_size, d_model) * 0.02)

    def forward(self, ids):
        return self.weight[:, ids].permute(1, 2, 0)  # columns picked by id: (V, B, T) -> (B, T, V)
