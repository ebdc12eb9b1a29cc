MISCONCEPTION = "dx sums where it should average"


class LayerNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        var, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)
        rstd = torch.rsqrt(var + eps)
        xhat = (x - mean) * rstd
        ctx.save_for_backward(xhat, rstd, weight)
        y = xhat if weight is None else xhat * weight
        return y if bias is None else y + bias

    @staticmethod
    def backward(ctx, grad_out):
        xhat, rstd, weight = ctx.saved_tensors
        D = xhat.size(-1)
        g2, x2 = grad_out.reshape(-1, D), xhat.reshape(-1, D)
        dweight = (g2 * x2).sum(0) if ctx.needs_input_grad[1] else None
        dbias = g2.sum(0) if ctx.needs_input_grad[2] else None
        g = grad_out if weight is None else grad_out * weight
        dx = rstd * (g - g.sum(-1, keepdim=True) - xhat * (g * xhat).sum(-1, keepdim=True))  # 1/D dropped
        return dx, dweight, dbias, None
