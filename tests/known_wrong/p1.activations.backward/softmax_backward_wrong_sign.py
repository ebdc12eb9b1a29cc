MISCONCEPTION = "not the vector-Jacobian product"


def softmax_backward(y, dy):
    dot = (y * dy).sum(axis=-1, keepdims=True)
    return y * (dot - dy)
