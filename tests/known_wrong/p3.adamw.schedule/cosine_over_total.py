MISCONCEPTION = "the cosine runs over total_steps - warmup_steps"


def lr_at(step, max_lr, warmup_steps, total_steps, min_lr):
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    if step > total_steps:
        return min_lr
    progress = step / total_steps  # counts the warm-up as part of the decay
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (max_lr - min_lr)
