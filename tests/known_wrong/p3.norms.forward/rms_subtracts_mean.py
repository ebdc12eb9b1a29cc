MISCONCEPTION = "the mean is subtracted"


def rms_norm(x, weight, eps=1e-6):
    xf = _upcast(x)
    xc = xf - xf.mean(dim=-1, keepdim=True)  # LayerNorm's habit carried over
    y = xc * torch.rsqrt(xc.pow(2).mean(dim=-1, keepdim=True) + eps)
    if weight is not None:
        y = y * weight
    return y.to(x.dtype)
