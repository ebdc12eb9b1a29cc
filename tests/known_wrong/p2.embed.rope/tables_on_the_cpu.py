MISCONCEPTION = "build the frequencies on x.device"


def apply_rope(x, positions, base=10000.0):
    Dh = x.shape[-1]
    dtype = torch.promote_types(x.dtype, torch.float32)
    inv_freq = base ** (-torch.arange(0, Dh, 2, dtype=dtype) / Dh)  # always on the CPU
    angles = positions.to(dtype=dtype)[:, None] * inv_freq
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)
