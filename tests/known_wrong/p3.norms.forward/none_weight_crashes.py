MISCONCEPTION = "weight and bias may be None"


def layer_norm(x, weight, bias, eps=1e-5):
    xf = _upcast(x)
    var, mean = torch.var_mean(xf, dim=-1, correction=0, keepdim=True)
    return ((xf - mean) * torch.rsqrt(var + eps) * weight + bias).to(x.dtype)  # None * tensor: TypeError
