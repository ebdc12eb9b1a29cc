MISCONCEPTION = "position t must attend to itself"


def causal_mask(T, device=None):
    return torch.ones(T, T, dtype=torch.bool, device=device).tril(diagonal=-1)  # strictly the past
