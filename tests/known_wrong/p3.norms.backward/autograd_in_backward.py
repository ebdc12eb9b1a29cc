MISCONCEPTION = "your backward uses autograd"


class LayerNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        ctx.save_for_backward(x, weight, bias)
        ctx.eps = eps
        return layer_norm(x, weight, bias, eps)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, bias = ctx.saved_tensors
        with torch.enable_grad():  # let autograd do the work after all
            x_ = x.detach().requires_grad_()
            w_ = None if weight is None else weight.detach().requires_grad_()
            b_ = None if bias is None else bias.detach().requires_grad_()
            y = layer_norm(x_, w_, b_, ctx.eps)
            inputs = [t for t in (x_, w_, b_) if t is not None]
            grads = iter(torch.autograd.grad(y, inputs, grad_out))
        dx = next(grads)
        dweight = None if weight is None else next(grads)
        dbias = None if bias is None else next(grads)
        return dx, dweight, dbias, None
