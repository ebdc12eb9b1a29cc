MISCONCEPTION = "the lr becomes negative after total_steps"


def lr_at(step, max_lr, warmup_steps, total_steps, min_lr):
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (max_lr - min_lr) * math.cos(math.pi / 2 * progress)  # a quarter wave, no floor
