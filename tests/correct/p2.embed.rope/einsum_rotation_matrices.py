# One explicit 2×2 rotation matrix [[cos, -sin], [sin, cos]] per (position, pair), applied to the pairs with
# einsum in float32 (float64 for float64 input); the result rounded to x's dtype once.
import math


def apply_rope(x, positions, base=10000.0):
    Dh = x.shape[-1]
    work = torch.promote_types(x.dtype, torch.float32)
    i = torch.arange(Dh // 2, device=x.device, dtype=work)
    theta = torch.exp(-(2.0 * i / Dh) * math.log(base))  # base^(-2i/Dh)
    a = positions.to(device=x.device, dtype=work).unsqueeze(-1) * theta  # (T, Dh/2)
    c, s = torch.cos(a), torch.sin(a)
    rot = torch.stack((torch.stack((c, -s), -1), torch.stack((s, c), -1)), -2)  # (T, Dh/2, 2, 2): rot[..., row, col]
    pairs = x.to(work).unflatten(-1, (Dh // 2, 2))  # (B, H, T, Dh/2, 2)
    out = torch.einsum("tprc,bhtpc->bhtpr", rot, pairs)
    return out.flatten(-2).to(x.dtype)
