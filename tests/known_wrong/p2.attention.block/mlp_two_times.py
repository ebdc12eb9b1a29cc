MISCONCEPTION = "a 4x expansion"


class MLP(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.fc = nn.Linear(d_model, 2 * d_model)
        self.gelu = nn.GELU(approximate="tanh")
        self.proj = nn.Linear(2 * d_model, d_model)

    def forward(self, x):
        return self.proj(self.gelu(self.fc(x)))
