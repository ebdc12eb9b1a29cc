"""The norm as a Python float summed in float64, the scale as a float; the schedule with a clamped progress."""


def lr_at(step, max_lr, warmup_steps, total_steps, min_lr):
    if warmup_steps > 0 and step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return max_lr * cosine + min_lr * (1.0 - cosine)


def clip_grad_norm(parameters, max_norm, eps=1e-6):
    grads = []
    for p in parameters:
        if p.grad is not None:
            grads.append(p.grad)
    total = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads))
    if total > max_norm:
        for g in grads:
            g.mul_(max_norm / (total + eps))
    return total
