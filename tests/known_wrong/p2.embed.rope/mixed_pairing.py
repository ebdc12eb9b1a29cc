MISCONCEPTION = "one angle"


def apply_rope(x, positions, base=10000.0):
    Dh = x.shape[-1]
    inv_freq = base ** (-torch.arange(0, Dh, 2, dtype=torch.float32) / Dh)
    angles = (positions.float()[:, None] * inv_freq).repeat_interleave(2, dim=-1)  # interleaved angles ...
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    rotated_half = torch.cat((-x[..., Dh // 2 :], x[..., : Dh // 2]), dim=-1)  # ... with rotate_half partners
    return x * cos + rotated_half * sin
