MISCONCEPTION = "the bias is quantized"


class Int8Linear(Int8Linear):
    @classmethod
    def from_linear(cls, linear, group_size=None):
        layer = super().from_linear(linear, group_size)
        if layer.bias is not None:
            q, s = quantize(layer.bias.view(1, -1), "tensor")
            layer.bias = dequantize(q, s).view(-1)  # everything through INT8
        return layer
