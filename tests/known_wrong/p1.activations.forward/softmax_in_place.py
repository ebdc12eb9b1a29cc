MISCONCEPTION = "softmax modified its input array in place"


def softmax(x, axis=-1):
    x -= x.max(axis=axis, keepdims=True)  # changes the caller's logits
    np.exp(x, out=x)
    x /= x.sum(axis=axis, keepdims=True)
    return x
