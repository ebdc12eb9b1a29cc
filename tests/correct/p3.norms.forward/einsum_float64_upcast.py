# Statistics through einsum, low-precision inputs taken up to float64 (more than needed, still correct),
# LayerNorm written as RMSNorm of the centred row, and modules that keep their settings in a dict.


def _stats_dtype(x):
    return torch.float64 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


def rms_norm(x, weight, eps=1e-6):
    xf = x.to(_stats_dtype(x))
    ms = torch.einsum("...d,...d->...", xf, xf).unsqueeze(-1) / xf.shape[-1]  # (..., 1)
    y = xf * ms.add(eps).rsqrt()
    return (y if weight is None else y * weight).to(x.dtype)


def layer_norm(x, weight, bias, eps=1e-5):
    xf = x.to(_stats_dtype(x))
    ones = torch.ones(xf.shape[-1], dtype=xf.dtype, device=xf.device)
    mean = torch.einsum("...d,d->...", xf, ones).unsqueeze(-1) / xf.shape[-1]  # (..., 1)
    y = rms_norm(xf - mean, None, eps)  # variance of a centred row = its mean square
    y = y if weight is None else y * weight
    y = y if bias is None else y + bias
    return y.to(x.dtype)


class LayerNorm(nn.Module):
    def __init__(self, d, eps=1e-5, bias=True):
        super().__init__()
        self.config = {"d": d, "eps": eps}
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None

    def forward(self, x):
        return layer_norm(x, self.weight, self.bias, self.config["eps"])


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.config = {"d": d, "eps": eps}
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return rms_norm(x, self.weight, self.config["eps"])
