MISCONCEPTION = "keepdims=True, so the (4, 1) row"


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis))  # (C,) lines up with the columns, not the rows
    return e / e.sum(axis=axis)
