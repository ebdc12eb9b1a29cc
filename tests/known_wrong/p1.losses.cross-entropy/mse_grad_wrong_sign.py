MISCONCEPTION = "mse_grad has the wrong sign"


def mse_grad(pred, target):
    return 2.0 * (target - pred) / pred.size
