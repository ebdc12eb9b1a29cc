MISCONCEPTION = "dequantize divides by the scale"


def dequantize(q, scale, group_size=None):
    s = _per_element(scale, group_size)
    return q.float() / torch.where(s > 0, s, torch.ones_like(s))
