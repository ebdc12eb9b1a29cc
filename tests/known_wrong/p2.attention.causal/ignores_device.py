MISCONCEPTION = "must build the mask on d"


def causal_mask(T, device=None):
    return torch.ones(T, T, dtype=torch.bool).tril()  # device= accepted and never used
