MISCONCEPTION = "the variance is the unbiased one"


def layer_norm(x, weight, bias, eps=1e-5):
    xf = _upcast(x)
    mean = xf.mean(dim=-1, keepdim=True)
    var = xf.var(dim=-1, keepdim=True)  # torch.var divides by D - 1 unless told otherwise
    y = (xf - mean) / torch.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.to(x.dtype)
