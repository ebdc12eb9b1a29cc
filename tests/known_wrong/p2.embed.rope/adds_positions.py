MISCONCEPTION = "through m - n"


def apply_rope(x, positions, base=10000.0):
    Dh = x.shape[-1]
    inv_freq = base ** (-torch.arange(0, Dh, 2, dtype=torch.float32) / Dh)
    angles = positions.float()[:, None] * inv_freq
    pe = torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(-2).to(x.dtype)  # (T, Dh)
    return x + pe  # an absolute encoding added to q and k
