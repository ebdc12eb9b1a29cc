# The "rotate every two" form: x·cos + rot(x)·sin, where rot(x) maps each pair (a, b) to (-b, a) and the
# (T, Dh/2) cos and sin tables are widened to (T, Dh) with repeat_interleave; angles in float32, the tables
# cast to x's dtype before they meet it.


def _rotate_pairs(x):
    even, odd = x[..., ::2], x[..., 1::2]
    return torch.stack((-odd, even), dim=-1).reshape(x.shape)


def apply_rope(x, positions, base=10000.0):
    Dh = x.shape[-1]
    angle_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    exponents = torch.arange(0, Dh, 2, dtype=angle_dtype, device=x.device) / Dh
    inv_freq = torch.tensor(base, dtype=angle_dtype, device=x.device) ** -exponents
    angles = positions.to(device=x.device, dtype=angle_dtype)[:, None] * inv_freq[None, :]  # (T, Dh/2)
    angles = angles.repeat_interleave(2, dim=-1)  # (T, Dh): θ_i for both dims of pair i
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    return x * cos + _rotate_pairs(x) * sin
