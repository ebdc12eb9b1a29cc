MISCONCEPTION = "quantizes per tensor"


class Int8Linear(Int8Linear):
    @classmethod
    def from_linear(cls, linear, group_size=None):
        q, scale = quantize(linear.weight.detach(), "tensor")
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        return cls(q, scale, bias, None)
