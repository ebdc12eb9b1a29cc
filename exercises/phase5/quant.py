"""Phase 5 · INT8 quantization.

Two steps fill this file, in order:
  p5.quant.absmax  quantize, dequantize
  p5.quant.linear  Int8Linear, quantize_model

Symmetric absmax INT8 of a weight w of shape (out_features, in_features):
    scale = absmax / 127                       over the tensor, an output row, or a group of a row
    q     = clamp(round(w / scale), -127, 127)  as torch.int8 (torch.round: half to even)
    w_hat = q · scale                           in float32
An all-zero row or group has absmax 0: its scale is 0 and its codes 0, so it dequantizes to exactly 0.

Pointer: Tensor.amax(dim, keepdim=True), torch.round, Tensor.view for the groups, repeat_interleave to
spread a group's scale over its columns; nn.Module.register_buffer for tensors that are not trained.
"""

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

# -- p5.quant.absmax ------------------------------------------------------------------------------


def quantize(w: torch.Tensor, granularity: str, group_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric absmax INT8 of a 2-D weight w (out_features, in_features) in float32, bfloat16 or float16.

    granularity "tensor": one scale, a 0-dim tensor; "channel": one per output row, shape (out_features, 1);
    "group": one per group of group_size consecutive input columns of a row, shape
    (out_features, in_features // group_size). A group_size that does not divide in_features, or none for
    "group", raises ValueError (the message names group_size and in_features).

    Returns (q, scale): q int8 of w's shape, clamp(round(w / scale), -127, 127) computed in float32; scale
    float32, absmax / 127 (exactly 0 for an all-zero row or group, whose codes are 0). w is left unchanged.
    """
    raise NotImplementedError


def dequantize(q: torch.Tensor, scale: torch.Tensor, group_size: int | None = None) -> torch.Tensor:
    """w_hat = q · scale as a float32 (out_features, in_features) tensor.

    scale as quantize returns it: 0-dim or (out_features, 1) with group_size None, or
    (out_features, in_features // group_size) with the group_size it was made with, each group's scale
    applying to its own group_size consecutive columns. q and scale are left unchanged.
    """
    raise NotImplementedError


# -- p5.quant.linear ------------------------------------------------------------------------------


class Int8Linear(nn.Module):
    """A linear layer with INT8 weights and float32 activations (weight-only quantization).

    Buffers, not parameters (register_buffer): `weight` int8 (out_features, in_features), `scale`
    float32 as quantize returns it ((out_features, 1) per channel, (out_features, in_features //
    group_size) per group), `bias` float32 (out_features,) or None whatever the linear's dtype; all
    detached. No float copy of the weight is kept, not even between forwards. Write __init__ as you like;
    the grader builds layers with from_linear.
    """

    @classmethod
    def from_linear(cls, linear: nn.Linear, group_size: int | None = None) -> "Int8Linear":
        """An Int8Linear from `linear`: per-channel INT8 of its weight (per group of group_size input columns
        if given), its bias copied in float32. `linear` is left unchanged."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., in_features) float32 -> (..., out_features) float32: x @ dequantize(weight).T + bias."""
        raise NotImplementedError


def quantize_model(model: nn.Module, group_size: int | None = None, skip: tuple[str, ...] = ("lm_head",)) -> nn.Module:
    """A copy of `model` in which every nn.Linear, at any depth, is replaced by Int8Linear.from_linear(linear,
    group_size), except those whose qualified name (as in model.named_modules(), e.g. "blocks.0.attn.qkv")
    is in `skip`. Nothing else changes: embeddings and LayerNorms stay as they were. Every parameter left
    in the copy has requires_grad False. `model` itself is left unchanged.

    The default skips the GPT's lm_head: it is tied to the token embedding, which stays in float.
    """
    raise NotImplementedError
