MISCONCEPTION = "not tanh(x) unsquared"


def tanh_grad(x):
    return 1.0 - np.tanh(x)
