MISCONCEPTION = "the std is the unbiased one"


def group_advantages(rewards, eps=1e-4):
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True)  # torch's default divides by G - 1
    return (rewards - mean) / (std.nan_to_num(0.0) + eps)
