MISCONCEPTION = "a generator can be iterated only once"


def clip_grad_norm(parameters, max_norm, eps=1e-6):
    total = torch.sqrt(sum((p.grad**2).sum() for p in parameters if p.grad is not None))
    if total > max_norm:
        for p in parameters:  # a generator is already exhausted here
            if p.grad is not None:
                p.grad.mul_(max_norm / (total + eps))
    return total
