MISCONCEPTION = "one value per column"


def mse(pred, target):
    return np.mean((pred - target) ** 2, axis=0)
