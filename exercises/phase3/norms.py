"""Normalization layers: LayerNorm and RMSNorm, then LayerNorm's backward written by hand.

p3.norms.forward: `layer_norm`, `rms_norm`, and the modules `LayerNorm` and `RMSNorm`.
  x has shape (..., D): any number of leading dimensions, normalised along the last axis only.
  weight and bias have shape (D,), or are None (then that part of the affine step is skipped).
  - layer_norm: (x - mean) / sqrt(var + eps) * weight + bias, var the biased variance (divide by D).
  - rms_norm:   x / sqrt(mean(x²) + eps) * weight, no mean subtracted, no bias.
  - float16 / bfloat16 inputs: compute the statistics in float32, return the input's dtype;
    float32 / float64 inputs: compute in their own dtype.
  - Write them from reductions (no F.layer_norm, F.rms_norm, nn.LayerNorm), without a loop over rows.
  - Return a new tensor; leave x, weight and bias as they were.
  - LayerNorm(d, eps=1e-5, bias=True) and RMSNorm(d, eps=1e-6) hold nn.Parameters named `weight`
    (ones) and `bias` (zeros; none when bias=False), so that their state dicts load into and from
    nn.LayerNorm and nn.RMSNorm.

p3.norms.backward: `LayerNormFunction` and `layer_norm_manual`.
  - forward(ctx, x, weight, bias, eps): the LayerNorm output (weight and bias may be None). Save for
    backward one tensor of x's size (x̂, or x) plus per-row statistics (1/σ) and weight: no more.
  - backward(ctx, grad_out): (dx, dweight, dbias, None), dweight and dbias of shape (D,), summed
    over every leading dimension, None for a weight or bias that was None. No autograd inside.

Pointer: x.mean(-1, keepdim=True) gives one mean per row as (..., 1); subtract it before squaring.
"""

import torch
import torch.nn as nn

# -- p3.norms.forward ---------------------------------------------------------------------------


def layer_norm(x, weight, bias, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis; weight and bias may be None."""
    raise NotImplementedError


def rms_norm(x, weight, eps=1e-6):
    """x / sqrt(mean(x²) + eps) * weight over the last axis; the mean is not subtracted. weight may be None."""
    raise NotImplementedError


class LayerNorm(nn.Module):
    """nn.LayerNorm over the last axis: parameters `weight` (ones) and `bias` (zeros, absent if bias=False)."""

    def __init__(self, d, eps=1e-5, bias=True):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError


class RMSNorm(nn.Module):
    """nn.RMSNorm over the last axis: one parameter, `weight` (ones)."""

    def __init__(self, d, eps=1e-6):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError


# -- p3.norms.backward --------------------------------------------------------------------------


class LayerNormFunction(torch.autograd.Function):
    """LayerNorm with its backward written out by hand."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        """x (..., D), weight and bias (D,) or None -> (..., D); ctx.save_for_backward(...) what backward needs."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_out):
        """grad_out (..., D) -> (dx (..., D), dweight (D,) or None, dbias (D,) or None, None for eps)."""
        raise NotImplementedError


def layer_norm_manual(x, weight, bias, eps=1e-5):
    """layer_norm(x, weight, bias, eps) whose gradients come from LayerNormFunction.backward."""
    raise NotImplementedError
