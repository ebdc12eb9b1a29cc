MISCONCEPTION = "must raise ValueError"


class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, d_model) * 0.02)

    def forward(self, T):
        return self.weight[:T]  # T > max_len quietly yields max_len rows
