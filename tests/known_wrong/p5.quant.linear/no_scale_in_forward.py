MISCONCEPTION = "without their scales"


class Int8Linear(Int8Linear):
    def forward(self, x):
        return F.linear(x, self.weight.float(), self.bias)
