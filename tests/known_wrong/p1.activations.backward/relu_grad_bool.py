MISCONCEPTION = "not a bool mask"


def relu_grad(x):
    return x > 0  # the right pattern, as True/False instead of 1.0/0.0
