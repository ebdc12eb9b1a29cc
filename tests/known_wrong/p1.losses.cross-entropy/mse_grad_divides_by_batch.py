MISCONCEPTION = "not by N = pred.shape[0]"


def mse_grad(pred, target):
    return 2.0 * (pred - target) / pred.shape[0]
