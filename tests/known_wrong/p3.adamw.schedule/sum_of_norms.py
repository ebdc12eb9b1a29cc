MISCONCEPTION = "the total norm is the sum of the tensors' norms"


def clip_grad_norm(parameters, max_norm, eps=1e-6):
    grads = [p.grad for p in parameters if p.grad is not None]
    total = sum(g.norm() for g in grads)  # adds lengths instead of squares
    if total > max_norm:
        for g in grads:
            g.mul_(max_norm / (total + eps))
    return total
