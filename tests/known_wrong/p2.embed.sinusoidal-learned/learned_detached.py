MISCONCEPTION = "no gradient reached the table"


class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, d_model) * 0.02)

    def forward(self, T):
        if T > self.weight.shape[0]:
            raise ValueError("too long")
        return self.weight.detach()[:T].clone()
