MISCONCEPTION = "the mean is not subtracted"


def layer_norm(x, weight, bias, eps=1e-5):
    xf = _upcast(x)
    var = xf.var(dim=-1, correction=0, keepdim=True)
    y = xf * torch.rsqrt(var + eps)  # divides by σ but never centres the row
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.to(x.dtype)
