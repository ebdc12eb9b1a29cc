MISCONCEPTION = "must hold the nn.Parameters"


class LayerNorm(nn.Module):
    def __init__(self, d, eps=1e-5, bias=True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))  # bias=False is ignored: a parameter nobody asked for
        self.use_bias = bias

    def forward(self, x):
        return layer_norm(x, self.weight, self.bias if self.use_bias else None, self.eps)
