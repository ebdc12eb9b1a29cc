MISCONCEPTION = "agrees only to float32 precision"


def layer_norm(x, weight, bias, eps=1e-5):
    xf = x.float()  # every dtype goes through float32, float64 included
    var, mean = torch.var_mean(xf, dim=-1, correction=0, keepdim=True)
    y = (xf - mean) * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight.float()
    if bias is not None:
        y = y + bias.float()
    return y.to(x.dtype)
