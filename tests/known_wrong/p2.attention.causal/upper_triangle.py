MISCONCEPTION = "form the lower triangle"


def causal_mask(T, device=None):
    return torch.ones(T, T, dtype=torch.bool, device=device).triu()  # keys j >= t: the future
