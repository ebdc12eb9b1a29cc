MISCONCEPTION = "not the max of the whole array"


def softmax(x, axis=-1):
    e = np.exp(x - x.max())  # one max for the whole array: small rows underflow to 0/0
    return e / e.sum(axis=axis, keepdims=True)
