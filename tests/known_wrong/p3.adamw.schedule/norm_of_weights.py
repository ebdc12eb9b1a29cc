MISCONCEPTION = "measured the parameters' values"


def clip_grad_norm(parameters, max_norm, eps=1e-6):
    params = [p for p in parameters if p.grad is not None]
    total = torch.sqrt(sum((p.detach() ** 2).sum() for p in params))  # the weights, not their gradients
    if total > max_norm:
        for p in params:
            p.grad.mul_(max_norm / (total + eps))
    return total
