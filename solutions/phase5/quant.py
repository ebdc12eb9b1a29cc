"""Phase 5 · INT8 quantization (reference).

p5.quant.absmax  quantize, dequantize
p5.quant.linear  Int8Linear, quantize_model

Symmetric absmax INT8: scale = absmax / 127 over a tensor, an output row or a group of consecutive
input columns of a row; q = clamp(round(w / scale), -127, 127) as int8; w_hat = q · scale. An all-zero
row or group gets scale 0 and q 0, so it dequantizes to exactly 0.
"""

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

GRANULARITIES = ("tensor", "channel", "group")
QMAX = 127  # symmetric: -128 is never used, so +x and -x always have the same code

# -- p5.quant.absmax ------------------------------------------------------------------------------


def _per_element(scale: torch.Tensor, group_size: int | None) -> torch.Tensor:
    """The scale of each weight: a group scale (out, in // group_size) repeated over its group's columns,
    anything else as it is (it broadcasts)."""
    if group_size is None:
        return scale
    return scale.repeat_interleave(group_size, dim=1)  # (out, in): column j uses group j // group_size


def quantize(w: torch.Tensor, granularity: str, group_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric absmax INT8 of a 2-D weight (out_features, in_features): (q int8, scale float32)."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    out_features, in_features = w.shape
    w = w.float()  # bfloat16 and float16 widen exactly; the scales are float32 whatever the weight
    if granularity == "tensor":
        absmax = w.abs().amax()  # ()
        group_size = None
    elif granularity == "channel":
        absmax = w.abs().amax(dim=1, keepdim=True)  # (out, 1): one scale per output row
        group_size = None
    else:
        if group_size is None or group_size < 1 or in_features % group_size:
            raise ValueError(
                f"group_size {group_size} must divide in_features {in_features}: each group is group_size "
                "consecutive input columns of a row"
            )
        absmax = w.view(out_features, in_features // group_size, group_size).abs().amax(dim=-1)  # (out, groups)
    scale = absmax / QMAX
    per_element = _per_element(scale, group_size)
    # An all-zero row or group has scale 0: divide it by 1 instead, its weights are 0 and stay 0.
    safe = torch.where(per_element > 0, per_element, torch.ones_like(per_element))
    q = torch.round(w / safe).clamp(-QMAX, QMAX).to(torch.int8)  # round half to even
    return q, scale


def dequantize(q: torch.Tensor, scale: torch.Tensor, group_size: int | None = None) -> torch.Tensor:
    """w_hat = q · scale in float32, (out, in); `group_size` when the scales are per group."""
    return q.float() * _per_element(scale, group_size)


# -- p5.quant.linear ------------------------------------------------------------------------------


class Int8Linear(nn.Module):
    """A linear layer with INT8 weights: weight-only quantization, the matmul in float32.

    Buffers, not parameters: `weight` int8 (out, in), `scale` float32 ((out, 1) per channel or
    (out, in // group_size) per group) and `bias` float32 (out,) or None. Nothing here is trained.
    """

    def __init__(self, weight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None, group_size: int | None = None):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.group_size = group_size
        self.register_buffer("weight", weight)
        self.register_buffer("scale", scale)
        self.register_buffer("bias", bias)

    @classmethod
    def from_linear(cls, linear: nn.Linear, group_size: int | None = None) -> "Int8Linear":
        """Per-channel INT8 of `linear` (per group of `group_size` input columns if given); `linear` unchanged."""
        granularity = "channel" if group_size is None else "group"
        q, scale = quantize(linear.weight.detach(), granularity, group_size)
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        return cls(q, scale, bias, group_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The float weight exists only during this call: memory holds the int8 codes and the scales.
        w_hat = dequantize(self.weight, self.scale, self.group_size)  # (out, in)
        return F.linear(x, w_hat, self.bias)  # (..., in) -> (..., out)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, group_size={self.group_size}"


def quantize_model(model: nn.Module, group_size: int | None = None, skip: tuple[str, ...] = ("lm_head",)) -> nn.Module:
    """A copy of `model` with every nn.Linear, except those named in `skip`, replaced by an Int8Linear."""
    quantized = copy.deepcopy(model)  # the original keeps its float weights
    for parent_name, parent in list(quantized.named_modules()):
        for child_name, child in list(parent.named_children()):
            name = f"{parent_name}.{child_name}" if parent_name else child_name
            if isinstance(child, nn.Linear) and name not in skip:
                setattr(parent, child_name, Int8Linear.from_linear(child, group_size))
    return quantized.requires_grad_(False)
