# Every pair viewed as one complex number and multiplied by e^{i·m·θ}, built with torch.polar; the whole
# product in float32 (complex64), or in float64 for float64 input, and cast back to x's dtype at the end.


def apply_rope(x, positions, base=10000.0):
    *lead, T, Dh = x.shape
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    theta = 1.0 / torch.pow(base, torch.arange(0, Dh, 2, device=x.device, dtype=work) / Dh)  # (Dh/2,)
    m = positions.to(x.device, work)
    angles = torch.outer(m, theta)  # (T, Dh/2)
    turn = torch.polar(torch.ones_like(angles), angles)  # e^{i·m·θ_i}, (T, Dh/2)
    z = torch.view_as_complex(x.to(work).reshape(*lead, T, Dh // 2, 2).contiguous())  # x[2i] + i·x[2i+1]
    return torch.view_as_real(z * turn).reshape(*lead, T, Dh).to(x.dtype)
