MISCONCEPTION = "one-hot"


class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(vocab_size, d_model) * 0.02)

    def forward(self, ids):
        one_hot = torch.nn.functional.one_hot(ids, self.weight.shape[0]).to(self.weight.dtype)  # (B, T, V)
        return one_hot @ self.weight
