# GPT-2's GELU written from its tanh formula, SiLU as z·sigmoid(z), and the block's two residual updates
# made by one helper that takes the norm and the sublayer.
import math


def _gelu_tanh(z):
    return 0.5 * z * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z.pow(3))))


class MLP(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        hidden = 4 * d_model
        self.fc = nn.Linear(d_model, hidden)
        self.proj = nn.Linear(hidden, d_model)

    def forward(self, x):
        h = self.fc(x)
        return self.proj(_gelu_tanh(h))


class SwiGLU(nn.Module):
    def __init__(self, d_model, hidden):
        super().__init__()
        self.gate = nn.Linear(d_model, hidden, bias=False)
        self.up = nn.Linear(d_model, hidden, bias=False)
        self.down = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x):
        g = self.gate(x)
        return self.down(g * torch.sigmoid(g) * self.up(x))


class Block(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, causal=causal)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model)

    @staticmethod
    def _residual(x, norm, sublayer):
        return torch.add(x, sublayer(norm(x)))  # the stream itself is never normalized

    def forward(self, x):
        x = self._residual(x, self.ln1, self.attn)
        return self._residual(x, self.ln2, self.mlp)
