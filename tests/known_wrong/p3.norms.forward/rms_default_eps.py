MISCONCEPTION = "default eps must be 1e-06"


def rms_norm(x, weight, eps=1e-5):  # LayerNorm's default copied over
    xf = _upcast(x)
    y = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + eps)
    if weight is not None:
        y = y * weight
    return y.to(x.dtype)
