MISCONCEPTION = "normalised over the whole batch instead of per group"


def group_advantages(rewards, eps=1e-4):
    return (rewards - rewards.mean()) / (rewards.std(correction=0) + eps)  # one mean and std for every prompt
