"""Phase 2 · Embeddings: rotary position embeddings, RoPE (reference)."""

import torch


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    Dh = x.shape[-1]
    # angles in float32 (float64 for float64 x): in bfloat16, position 2001 would round to 2000
    dtype = torch.promote_types(x.dtype, torch.float32)
    inv_freq = base ** (-torch.arange(0, Dh, 2, dtype=dtype, device=x.device) / Dh)  # (Dh/2,): θ_i
    angles = positions.to(device=x.device, dtype=dtype)[:, None] * inv_freq  # (T, Dh/2): m·θ_i
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)  # (T, Dh/2), broadcast over (B, H)
    x0, x1 = x[..., 0::2], x[..., 1::2]  # (B, H, T, Dh/2) each: the pairs (2i, 2i+1)
    # rotate every pair counter-clockwise by m·θ_i: multiply x0 + i·x1 by e^(i·m·θ_i)
    r0 = x0 * cos - x1 * sin
    r1 = x0 * sin + x1 * cos
    return torch.stack((r0, r1), dim=-1).flatten(-2)  # (B, H, T, Dh), pairs interleaved again
