MISCONCEPTION = "forward + backward is much slower than the reference"


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
        g2, x2, r2 = grad_out.reshape(-1, D), xhat.reshape(-1, D), rstd.reshape(-1)
        dweight = (g2 * x2).sum(0) if ctx.needs_input_grad[1] else None
        dbias = g2.sum(0) if ctx.needs_input_grad[2] else None
        dx = torch.empty_like(g2)
        for i in range(g2.shape[0]):  # the formula one row at a time
            g = g2[i] if weight is None else g2[i] * weight
            dx[i] = r2[i] * (g - g.mean() - x2[i] * (g * x2[i]).mean())
        return dx.reshape(grad_out.shape), dweight, dbias, None
