# Heads as a list: split_heads stacks the channel chunks of each head, merge_heads concatenates the heads back
# along the channels; the module applies the three row blocks of the fused qkv weight with F.linear.
import torch.nn.functional as F


def split_heads(x, n_heads):
    return torch.stack(x.chunk(n_heads, dim=-1), dim=1)  # head h = channels h·Dh .. (h+1)·Dh - 1


def merge_heads(x):
    return torch.cat(x.unbind(dim=1), dim=-1)  # (B, T, Dh) per head, side by side


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        assert d_model % n_heads == 0
        self.d_model, self.n_heads, self.causal = d_model, n_heads, causal
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        C = self.d_model
        W, b = self.qkv.weight, self.qkv.bias  # rows 0..C-1 make q, C..2C-1 make k, 2C..3C-1 make v
        q, k, v = (
            split_heads(F.linear(x, W[i * C : (i + 1) * C], b[i * C : (i + 1) * C]), self.n_heads) for i in range(3)
        )
        attend = causal_attention if self.causal else scaled_dot_product_attention
        return self.proj(merge_heads(attend(q, k, v)))
