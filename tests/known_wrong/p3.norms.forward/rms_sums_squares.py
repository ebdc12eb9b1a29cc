MISCONCEPTION = "the squares are summed, not averaged"


def rms_norm(x, weight, eps=1e-6):
    xf = _upcast(x)
    y = xf / torch.sqrt(xf.pow(2).sum(dim=-1, keepdim=True) + eps)  # the L2 norm, not the root mean square
    if weight is not None:
        y = y * weight
    return y.to(x.dtype)
