"""Clipping through one concatenated vector and returning a float; the schedule with >= for the floor."""


def lr_at(step, max_lr, warmup_steps, total_steps, min_lr):
    if step < warmup_steps:
        return (step + 1) / warmup_steps * max_lr
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (max_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2


def clip_grad_norm(parameters, max_norm, eps=1e-6):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    total = torch.cat([g.reshape(-1) for g in grads]).norm(2)
    if total > max_norm:
        scale = max_norm / (total + eps)
        for g in grads:
            g.mul_(scale)
    return total.item()
