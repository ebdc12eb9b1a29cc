MISCONCEPTION = "changed the nn.Linear it was given"


class Int8Linear(Int8Linear):
    @classmethod
    def from_linear(cls, linear, group_size=None):
        layer = super().from_linear(linear, group_size)
        with torch.no_grad():
            linear.weight.copy_(dequantize(layer.weight, layer.scale, group_size))  # "apply" the quantization
        return layer
