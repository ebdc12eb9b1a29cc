MISCONCEPTION = "unbiased"


class LayerNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mean = x.mean(dim=-1, keepdim=True)
        rstd = 1.0 / torch.sqrt(x.var(dim=-1, keepdim=True) + eps)  # torch.var: divides by D - 1
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
        dx = rstd * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))
        return dx, dweight, dbias, None
