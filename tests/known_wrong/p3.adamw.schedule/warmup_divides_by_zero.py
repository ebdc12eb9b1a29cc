MISCONCEPTION = "lr_at divided by zero"


def lr_at(step, max_lr, warmup_steps, total_steps, min_lr):
    warm = min(1.0, (step + 1) / warmup_steps)  # the ramp, capped at 1
    if step < warmup_steps:
        return max_lr * warm
    if step > total_steps:
        return min_lr
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (max_lr - min_lr)
