MISCONCEPTION = "eps is added to the standard deviation"


def layer_norm(x, weight, bias, eps=1e-5):
    xf = _upcast(x)
    mean = xf.mean(dim=-1, keepdim=True)
    std = xf.std(dim=-1, correction=0, keepdim=True)
    y = (xf - mean) / (std + eps)  # eps guards the division, but outside the root
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.to(x.dtype)
