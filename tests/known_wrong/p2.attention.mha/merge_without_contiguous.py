MISCONCEPTION = "call .contiguous() after the transpose"


def merge_heads(x):
    B, H, T, Dh = x.shape
    return x.transpose(1, 2).view(B, T, H * Dh)  # view of a transposed tensor: RuntimeError
