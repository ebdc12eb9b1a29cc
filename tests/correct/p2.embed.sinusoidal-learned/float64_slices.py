# The angles in float64 with the frequencies as exp(-ln(base)·2i/d), written into an empty table through
# strided slices (sines at 0::2, cosines at 1::2), then cast to float32; the learned table sliced with
# narrow and its bound checked before anything else.
import math


def sinusoidal_encoding(T, d_model, base=10000.0):
    pe = torch.empty(T, d_model, dtype=torch.float64)
    positions = torch.arange(T, dtype=torch.float64).unsqueeze(1)  # (T, 1)
    dims = torch.arange(0, d_model, 2, dtype=torch.float64)  # 2i
    omega = torch.exp(dims * (-math.log(base) / d_model))  # 1 / base^(2i/d)
    angle = positions * omega  # (T, d/2)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.to(torch.float32)


class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.max_len = max_len
        self.weight = nn.Parameter(torch.zeros(max_len, d_model))
        with torch.no_grad():
            self.weight.normal_(0.0, 0.02)

    def forward(self, T):
        if not T <= self.max_len:
            raise ValueError(f"asked for {T} positions; this table was built for at most {self.max_len}")
        return self.weight.narrow(0, 0, T)
