MISCONCEPTION = "clips each tensor on its own"


def clip_grad_norm(parameters, max_norm, eps=1e-6):
    grads = [p.grad for p in parameters if p.grad is not None]
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    for g in grads:
        n = g.norm()
        if n > max_norm:  # each tensor held to max_norm by itself
            g.mul_(max_norm / (n + eps))
    return total
