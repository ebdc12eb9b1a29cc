MISCONCEPTION = "the forward uses the float weight"


class Int8Linear(Int8Linear):
    @classmethod
    def from_linear(cls, linear, group_size=None):
        layer = super().from_linear(linear, group_size)
        layer.float_weight = linear.weight.detach()  # kept "for accuracy"
        return layer

    def forward(self, x):
        return F.linear(x, self.float_weight, self.bias)
