MISCONCEPTION = "sigmoid_grad overflowed"


def sigmoid_grad(x):
    e = np.exp(-x)  # inf at x = -1000
    return e / (1.0 + e) ** 2
