MISCONCEPTION = "factor 2 from the square missing"


def mse_grad(pred, target):
    return (pred - target) / pred.size
