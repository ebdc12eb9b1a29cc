MISCONCEPTION = "must return a bool tensor"


def causal_mask(T, device=None):
    return torch.tril(torch.ones(T, T, device=device))  # 0.0 and 1.0, not False and True
