MISCONCEPTION = "the bias is dropped"


class Int8Linear(Int8Linear):
    def forward(self, x):
        return F.linear(x, dequantize(self.weight, self.scale, self.group_size))
