MISCONCEPTION = "T axis (dim 2)"


def apply_rope(x, positions, base=10000.0):
    Dh = x.shape[-1]
    inv_freq = base ** (-torch.arange(0, Dh, 2, dtype=torch.float32) / Dh)
    angles = positions.float()[:, None] * inv_freq
    cos = angles.cos().to(x.dtype)[None, :, None, :]  # (1, T, 1, Dh/2): LLaMA's (B, T, H, Dh) layout
    sin = angles.sin().to(x.dtype)[None, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)
