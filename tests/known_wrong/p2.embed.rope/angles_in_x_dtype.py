MISCONCEPTION = "compute positions × θ_i, cos and sin in float32 (at least)"


def apply_rope(x, positions, base=10000.0):
    Dh = x.shape[-1]
    inv_freq = base ** (-torch.arange(0, Dh, 2, dtype=torch.float32) / Dh)
    angles = (positions.to(x.dtype)[:, None] * inv_freq.to(x.dtype))  # float16 angles near 2000: off by radians
    cos, sin = angles.cos(), angles.sin()
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)
