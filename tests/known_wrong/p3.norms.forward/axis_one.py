MISCONCEPTION = "instead of the last one"


def layer_norm(x, weight, bias, eps=1e-5):
    # written for (N, D) inputs, where dim=1 is the last axis; on (B, T, D) it normalises over T
    xf = _upcast(x)
    dim = 1 if xf.dim() > 1 else 0
    var, mean = torch.var_mean(xf, dim=dim, correction=0, keepdim=True)
    y = (xf - mean) * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.to(x.dtype)
