MISCONCEPTION = "not the input x"


def sigmoid_grad(x):
    return x * (1.0 - x)  # treats the input as if it were sigmoid's output
