# Each pair read as a unit complex number e^{i·pos·ω}: torch.polar builds it, view_as_real gives (cos, sin),
# and the two are swapped into (sin, cos); the frequencies from torch.pow on a float32 exponent. The learned
# table indexed with an arange of positions.


def sinusoidal_encoding(T, d_model, base=10000.0):
    half = d_model // 2
    exponent = torch.arange(half, dtype=torch.float32) * (2.0 / d_model)  # 2i/d
    omega = torch.pow(torch.tensor(base, dtype=torch.float32), -exponent)  # (d/2,)
    angles = torch.outer(torch.arange(T, dtype=torch.float32), omega)  # (T, d/2)
    unit = torch.polar(torch.ones_like(angles), angles)  # cos + i·sin, complex64
    cos_sin = torch.view_as_real(unit)  # (T, d/2, 2): [..., 0] = cos, [..., 1] = sin
    return cos_sin.flip(-1).reshape(T, d_model).contiguous()


class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, d_model).mul_(0.02))

    def forward(self, T):
        rows = self.weight.shape[0]
        if T > rows:
            raise ValueError(f"T = {T} exceeds max_len = {rows}")
        return self.weight[torch.arange(T, device=self.weight.device)]
