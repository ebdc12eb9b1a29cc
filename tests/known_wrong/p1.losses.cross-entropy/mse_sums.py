MISCONCEPTION = "not a sum"


def mse(pred, target):
    return np.sum((pred - target) ** 2)
