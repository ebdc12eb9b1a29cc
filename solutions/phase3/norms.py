"""Normalization layers: LayerNorm and RMSNorm forward (p3.norms.forward), and LayerNorm's backward
written by hand as an autograd Function (p3.norms.backward).

Both normalise each vector along the last axis, so any number of leading dimensions works. Inputs in
float16 or bfloat16 have their statistics computed in float32 and come back in their own dtype;
float32 and float64 inputs are computed in their own precision.
"""

import torch
import torch.nn as nn

LOW_PRECISION = (torch.float16, torch.bfloat16)


def _upcast(x: torch.Tensor) -> torch.Tensor:
    """x in float32 if it is float16/bfloat16: x² of a float16 of 300 already overflows (max 65504)."""
    return x.float() if x.dtype in LOW_PRECISION else x


# -- p3.norms.forward ---------------------------------------------------------------------------


def layer_norm(x, weight, bias, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis; weight and bias may be None."""
    xf = _upcast(x)  # (..., D)
    xc = xf - xf.mean(dim=-1, keepdim=True)  # (..., D): centred first, so no cancellation below
    var = xc.square().mean(dim=-1, keepdim=True)  # (..., 1), biased: divide by D (var_mean is ~3x slower on CPU)
    y = xc * torch.rsqrt(var + eps)  # (..., D), every row mean 0 and variance ~1
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.to(x.dtype)


def rms_norm(x, weight, eps=1e-6):
    """x / sqrt(mean(x²) + eps) * weight over the last axis; the mean is not subtracted. weight may be None."""
    xf = _upcast(x)  # (..., D)
    ms = xf.pow(2).mean(dim=-1, keepdim=True)  # (..., 1): the mean square, one reduction
    y = xf * torch.rsqrt(ms + eps)  # (..., D)
    if weight is not None:
        y = y * weight
    return y.to(x.dtype)


class LayerNorm(nn.Module):
    """nn.LayerNorm over the last axis: parameters `weight` (ones) and `bias` (zeros, None if bias=False)."""

    def __init__(self, d, eps=1e-5, bias=True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None

    def forward(self, x):
        return layer_norm(x, self.weight, self.bias, self.eps)


class RMSNorm(nn.Module):
    """nn.RMSNorm over the last axis: one parameter, `weight` (ones)."""

    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)


# -- p3.norms.backward --------------------------------------------------------------------------


class LayerNormFunction(torch.autograd.Function):
    """LayerNorm with its backward written out: saves x̂ and 1/σ per row (and weight), nothing else."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        xc = x - x.mean(dim=-1, keepdim=True)  # (..., D)
        rstd = torch.rsqrt(xc.square().mean(dim=-1, keepdim=True) + eps)  # (..., 1): 1/σ, biased variance
        xhat = xc * rstd  # (..., D)
        ctx.save_for_backward(xhat, rstd, weight)  # weight may be None
        y = xhat if weight is None else xhat * weight
        return y if bias is None else y + bias

    @staticmethod
    def backward(ctx, grad_out):
        xhat, rstd, weight = ctx.saved_tensors
        D = xhat.size(-1)
        g_rows, xhat_rows = grad_out.reshape(-1, D), xhat.reshape(-1, D)  # (N, D): every leading axis in one
        dweight = (g_rows * xhat_rows).sum(0) if ctx.needs_input_grad[1] else None  # (D,); None for weight=None
        dbias = g_rows.sum(0) if ctx.needs_input_grad[2] else None  # (D,)
        g = grad_out if weight is None else grad_out * weight  # (..., D): the gradient with respect to x̂
        # x̂ depends on x through the mean and through σ: remove both directions from g, then scale by 1/σ
        dx = rstd * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))
        return dx, dweight, dbias, None


def layer_norm_manual(x, weight, bias, eps=1e-5):
    """layer_norm(x, weight, bias, eps) whose gradients come from LayerNormFunction.backward."""
    return LayerNormFunction.apply(x, weight, bias, eps)
