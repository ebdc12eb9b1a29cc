MISCONCEPTION = "pair i is (x[2i], x[2i+1])"


def apply_rope(x, positions, base=10000.0):
    Dh = x.shape[-1]
    inv_freq = base ** (-torch.arange(0, Dh, 2, dtype=torch.float32) / Dh)
    angles = positions.float()[:, None] * inv_freq
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x0, x1 = x[..., : Dh // 2], x[..., Dh // 2 :]  # pairs (i, i + Dh/2): the rotate_half layout
    return torch.cat((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)
