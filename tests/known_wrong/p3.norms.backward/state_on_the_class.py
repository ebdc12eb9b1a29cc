MISCONCEPTION = "not on the class or in a global"


class LayerNormFunction(torch.autograd.Function):
    saved = None

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        var, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)
        rstd = torch.rsqrt(var + eps)
        xhat = (x - mean) * rstd
        LayerNormFunction.saved = (xhat, rstd, weight)  # shared by every call: the last forward wins
        y = xhat if weight is None else xhat * weight
        return y if bias is None else y + bias

    @staticmethod
    def backward(ctx, grad_out):
        xhat, rstd, weight = LayerNormFunction.saved
        D = xhat.size(-1)
        g2, x2 = grad_out.reshape(-1, D), xhat.reshape(-1, D)
        dweight = (g2 * x2).sum(0) if ctx.needs_input_grad[1] else None
        dbias = g2.sum(0) if ctx.needs_input_grad[2] else None
        g = grad_out if weight is None else grad_out * weight
        dx = rstd * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))
        return dx, dweight, dbias, None
