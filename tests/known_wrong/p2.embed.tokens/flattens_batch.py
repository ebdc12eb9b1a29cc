MISCONCEPTION = "do not flatten the batch"


class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(vocab_size, d_model) * 0.02)

    def forward(self, ids):
        return torch.index_select(self.weight, 0, ids.reshape(-1))  # (B*T, d)
