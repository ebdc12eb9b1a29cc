MISCONCEPTION = "not relu(x) itself"


def relu_grad(x):
    return np.maximum(x, 0.0)  # the forward value, not its slope
