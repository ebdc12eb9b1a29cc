MISCONCEPTION = "changed its inputs in place"


def layer_norm(x, weight, bias, eps=1e-5):
    xf = _upcast(x)
    xf -= xf.mean(dim=-1, keepdim=True)  # for float32 input xf is x itself: the caller's tensor changes
    var = xf.pow(2).mean(dim=-1, keepdim=True)
    y = xf * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.to(x.dtype)
