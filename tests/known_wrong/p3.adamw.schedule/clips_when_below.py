MISCONCEPTION = "scaled the gradients although"


def clip_grad_norm(parameters, max_norm, eps=1e-6):
    grads = [p.grad for p in parameters if p.grad is not None]
    total = torch.sqrt(sum((g**2).sum() for g in grads))
    for g in grads:
        g.mul_(max_norm / (total + eps))  # always: "normalise the gradient to max_norm"
    return total
