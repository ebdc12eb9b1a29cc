MISCONCEPTION = "overflows in float16"


def rms_norm(x, weight, eps=1e-6):
    ms = x.pow(2).mean(dim=-1, keepdim=True)  # in x's own dtype: 300² = 90000 > 65504 in float16
    y = x * torch.rsqrt(ms + eps)
    if weight is not None:
        y = y * weight
    return y
