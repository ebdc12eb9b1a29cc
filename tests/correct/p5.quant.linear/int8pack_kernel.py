"""Per channel through PyTorch's fused CPU kernel torch._weight_int8pack_mm (x float32 (M, K), codes int8
(N, K), scales (N,)), which never builds the float weight; per group a batched product over the groups.
The module allocates its buffers in __init__ and from_linear fills them."""


class Int8Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True, group_size=None):
        super().__init__()
        self.in_features, self.out_features, self.group_size = in_features, out_features, group_size
        groups = 1 if group_size is None else in_features // group_size
        self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("scale", torch.zeros(out_features, groups))
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)

    @classmethod
    def from_linear(cls, linear, group_size=None):
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, group_size)
        q, scale = quantize(linear.weight.detach(), "channel" if group_size is None else "group", group_size)
        layer.weight.copy_(q)
        layer.scale.copy_(scale)
        if linear.bias is not None:
            layer.bias.copy_(linear.bias.detach())
        return layer

    def forward(self, x):
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features).contiguous()  # (M, K)
        if self.group_size is None:
            y = torch._weight_int8pack_mm(x2, self.weight, self.scale.view(-1))  # (M, N)
        else:
            g = self.group_size
            xg = x2.view(x2.shape[0], -1, g)  # (M, G, g)
            qg = self.weight.view(self.out_features, -1, g).float()  # (N, G, g)
            y = torch.einsum("mgk,ngk,ng->mn", xg, qg, self.scale)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*lead, self.out_features)
