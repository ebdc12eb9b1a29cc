MISCONCEPTION = "only the Jacobian's diagonal"


def softmax_backward(y, dy):
    return y * (1.0 - y) * dy  # the sigmoid-style derivative: the diagonal of J only
