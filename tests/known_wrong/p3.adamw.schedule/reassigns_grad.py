MISCONCEPTION = "scale the gradients in place"


def clip_grad_norm(parameters, max_norm, eps=1e-6):
    params = [p for p in parameters if p.grad is not None]
    total = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in params]))
    if total > max_norm:
        for p in params:
            p.grad = p.grad * (max_norm / (total + eps))  # a new tensor each time
    return total
