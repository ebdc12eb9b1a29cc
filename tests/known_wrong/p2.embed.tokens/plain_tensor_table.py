MISCONCEPTION = "not a trainable parameter"


class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        self.weight = torch.randn(vocab_size, d_model, requires_grad=True) * 0.02  # a plain tensor attribute

    def forward(self, ids):
        return self.weight[ids]
