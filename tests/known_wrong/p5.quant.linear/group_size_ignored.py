MISCONCEPTION = "ignores group_size"


class Int8Linear(Int8Linear):
    @classmethod
    def from_linear(cls, linear, group_size=None):
        q, scale = quantize(linear.weight.detach(), "channel")
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        return cls(q, scale, bias, None)
