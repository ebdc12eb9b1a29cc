MISCONCEPTION = "keeps a float copy of the weight"


class Int8Linear(Int8Linear):
    def forward(self, x):
        if getattr(self, "_w_hat", None) is None:
            self._w_hat = dequantize(self.weight, self.scale, self.group_size)  # dequantize once, reuse
        return F.linear(x, self._w_hat, self.bias)
