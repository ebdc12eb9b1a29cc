# Two passes written out (mean, then the mean of the centred squares), a division by the square root, and
# float16/bfloat16 handled with an explicit dtype table; modules that register a missing bias as None.

_COMPUTE_DTYPE = {torch.float16: torch.float32, torch.bfloat16: torch.float32}


def layer_norm(x, weight, bias, eps=1e-5):
    xc = x.to(_COMPUTE_DTYPE.get(x.dtype, x.dtype))
    xc = xc - xc.mean(dim=-1, keepdim=True)  # (..., D), a new tensor
    var = (xc * xc).mean(dim=-1, keepdim=True)  # (..., 1)
    y = xc / torch.sqrt(var + eps)
    if weight is not None:
        y = y * weight.to(y.dtype)
    if bias is not None:
        y = y + bias.to(y.dtype)
    return y.to(x.dtype)


def rms_norm(x, weight, eps=1e-6):
    xf = x.to(_COMPUTE_DTYPE.get(x.dtype, x.dtype))
    D = xf.shape[-1]
    norm = torch.linalg.vector_norm(xf, dim=-1, keepdim=True)  # sqrt(Σ x²)
    y = xf / torch.sqrt(norm * norm / D + eps)
    if weight is not None:
        y = y * weight.to(y.dtype)
    return y.to(x.dtype)


class LayerNorm(nn.Module):
    def __init__(self, d, eps=1e-5, bias=True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))
        if bias:
            self.bias = nn.Parameter(torch.zeros(d))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return layer_norm(x, self.weight, self.bias, eps=self.eps)


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return rms_norm(x, self.weight, eps=self.eps)
