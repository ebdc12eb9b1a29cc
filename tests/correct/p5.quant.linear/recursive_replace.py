"""A recursive walk over named_children that carries the qualified prefix, and a forward that scales the
output rows instead of the weight (per channel: y = (x @ q.T) · scale.T, since the scale of row i
factors out of output i)."""


class Int8Linear(nn.Module):
    def __init__(self, q, scale, bias, group_size):
        super().__init__()
        self.out_features, self.in_features = q.shape
        self.group_size = group_size
        self.register_buffer("weight", q)
        self.register_buffer("scale", scale)
        self.register_buffer("bias", bias)

    @classmethod
    def from_linear(cls, linear, group_size=None):
        w = linear.weight.detach()
        q, scale = quantize(w, "group", group_size) if group_size else quantize(w, "channel")
        return cls(q, scale, None if linear.bias is None else linear.bias.detach().to(torch.float32).clone(), group_size)

    def forward(self, x):
        if self.group_size is None:
            y = (x @ self.weight.to(x.dtype).t()) * self.scale.view(-1)
        else:
            y = x @ dequantize(self.weight, self.scale, self.group_size).t()
        return y if self.bias is None else y + self.bias


def quantize_model(model, group_size=None, skip=("lm_head",)):
    def replace(module, prefix):
        for name, child in module.named_children():
            full = prefix + name
            if isinstance(child, nn.Linear):
                if full not in skip:
                    setattr(module, name, Int8Linear.from_linear(child, group_size))
            else:
                replace(child, full + ".")

    quantized = copy.deepcopy(model)
    replace(quantized, "")
    for p in quantized.parameters():
        p.requires_grad = False
    return quantized
