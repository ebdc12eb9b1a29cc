MISCONCEPTION = "no gradient reached weight"


class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(vocab_size, d_model) * 0.02)

    def forward(self, ids):
        return self.weight.data[ids]  # .data leaves autograd's graph
