MISCONCEPTION = "registers Parameters"


class Int8Linear(nn.Module):
    def __init__(self, weight, scale, bias, group_size=None):
        super().__init__()
        self.group_size = group_size
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.scale = nn.Parameter(scale, requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)

    from_linear = Int8Linear.__dict__["from_linear"]  # the same classmethod, building this class

    def forward(self, x):
        return F.linear(x, dequantize(self.weight, self.scale, self.group_size), self.bias)
