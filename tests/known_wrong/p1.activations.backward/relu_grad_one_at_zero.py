MISCONCEPTION = "use x > 0, not x >= 0"


def relu_grad(x):
    return (x >= 0).astype(x.dtype)
