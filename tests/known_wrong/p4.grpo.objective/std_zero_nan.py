MISCONCEPTION = "has std 0, and dividing by it gives NaN"


def group_advantages(rewards, eps=1e-4):
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True, correction=0)
    return (rewards - mean) / std  # eps forgotten
