MISCONCEPTION = "with eps outside the square root"


class LayerNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        var, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)
        ctx.save_for_backward(x, mean, var, weight)
        ctx.eps = eps
        y = (x - mean) / torch.sqrt(var + eps)
        y = y if weight is None else y * weight
        return y if bias is None else y + bias

    @staticmethod
    def backward(ctx, grad_out):
        x, mean, var, weight = ctx.saved_tensors
        rstd = 1.0 / (var.sqrt() + ctx.eps)  # recomputed, but not as the forward did
        xhat = (x - mean) * rstd
        D = x.size(-1)
        g2, x2 = grad_out.reshape(-1, D), xhat.reshape(-1, D)
        dweight = (g2 * x2).sum(0) if ctx.needs_input_grad[1] else None
        dbias = g2.sum(0) if ctx.needs_input_grad[2] else None
        g = grad_out if weight is None else grad_out * weight
        dx = rstd * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))
        return dx, dweight, dbias, None
