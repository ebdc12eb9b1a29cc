MISCONCEPTION = "in float32"


def apply_rope(x, positions, base=10000.0):
    Dh = x.shape[-1]
    inv_freq = base ** (-torch.arange(0, Dh, 2, dtype=torch.float32) / Dh)
    angles = positions.to(x.dtype)[:, None] * inv_freq.to(x.dtype)  # positions and angles in x's dtype
    cos, sin = angles.cos(), angles.sin()
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)
