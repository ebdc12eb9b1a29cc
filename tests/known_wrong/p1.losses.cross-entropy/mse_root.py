MISCONCEPTION = "no square root"


def mse(pred, target):
    return np.sqrt(np.mean((pred - target) ** 2))  # RMSE, not MSE
