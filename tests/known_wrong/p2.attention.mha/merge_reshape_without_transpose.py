MISCONCEPTION = "merge_heads mixes heads and positions"


def merge_heads(x):
    B, H, T, Dh = x.shape
    return x.reshape(B, T, H * Dh)  # flattens in (B, H, T, Dh) order
