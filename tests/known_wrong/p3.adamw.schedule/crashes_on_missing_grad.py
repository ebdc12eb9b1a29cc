MISCONCEPTION = "parameters whose .grad is None must be skipped"


def clip_grad_norm(parameters, max_norm, eps=1e-6):
    params = list(parameters)
    total = torch.sqrt(sum((p.grad**2).sum() for p in params))
    if total > max_norm:
        for p in params:
            p.grad.mul_(max_norm / (total + eps))
    return total
