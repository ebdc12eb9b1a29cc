MISCONCEPTION = "keepdims=True so it broadcasts"


def softmax_backward(y, dy):
    dot = (y * dy).sum(axis=-1)  # (...,) lines up with the last axis, not with the rows
    return y * (dy - dot)
