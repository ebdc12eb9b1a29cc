MISCONCEPTION = "less precise than statistics in float32 allow"


def layer_norm(x, weight, bias, eps=1e-5):
    xf = x.float() if x.dtype == torch.float16 else x  # float16 overflows, so only it is upcast
    var, mean = torch.var_mean(xf, dim=-1, correction=0, keepdim=True)
    y = (xf - mean) * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.to(x.dtype)
