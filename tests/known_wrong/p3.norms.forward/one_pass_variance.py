MISCONCEPTION = "catastrophic cancellation"


def layer_norm(x, weight, bias, eps=1e-5):
    xf = _upcast(x)
    mean = xf.mean(dim=-1, keepdim=True)
    var = (xf * xf).mean(dim=-1, keepdim=True) - mean * mean  # E[x²] − E[x]²: one pass, but unstable
    y = (xf - mean) / torch.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.to(x.dtype)
