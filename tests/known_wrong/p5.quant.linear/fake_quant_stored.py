MISCONCEPTION = "stored dequantized in float32"


class Int8Linear(nn.Module):
    def __init__(self, w_hat, bias):
        super().__init__()
        self.register_buffer("weight", w_hat)
        self.register_buffer("bias", bias)

    @classmethod
    def from_linear(cls, linear, group_size=None):
        q, scale = quantize(linear.weight.detach(), "channel" if group_size is None else "group", group_size)
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        return cls(dequantize(q, scale, group_size), bias)  # the quantization error, at float32's size

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)
