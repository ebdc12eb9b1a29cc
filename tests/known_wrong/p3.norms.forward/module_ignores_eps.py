MISCONCEPTION = "the eps it was built with"


class LayerNorm(nn.Module):
    def __init__(self, d, eps=1e-5, bias=True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None

    def forward(self, x):
        return layer_norm(x, self.weight, self.bias)  # the default eps, whatever the module was given
