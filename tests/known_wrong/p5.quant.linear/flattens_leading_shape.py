MISCONCEPTION = "loses the input's leading shape"


class Int8Linear(Int8Linear):
    def forward(self, x):
        x2 = x.reshape(-1, self.in_features)  # (N, in), as the matmul kernels want
        return F.linear(x2, dequantize(self.weight, self.scale, self.group_size), self.bias)
