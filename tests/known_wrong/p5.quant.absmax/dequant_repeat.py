MISCONCEPTION = "tiles the group scales"


def dequantize(q, scale, group_size=None):
    if group_size is None:
        return q.float() * scale
    return q.float() * scale.repeat(1, group_size)  # g0 g1 g0 g1 ...
