MISCONCEPTION = "position 0"


class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, d_model) * 0.02)

    def forward(self, T):
        if T > self.weight.shape[0]:
            raise ValueError("too long")
        pos = torch.arange(1, T + 1).clamp(max=self.weight.shape[0] - 1)  # positions counted from 1
        return self.weight[pos]
