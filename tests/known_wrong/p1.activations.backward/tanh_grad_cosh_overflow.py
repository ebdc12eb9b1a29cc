MISCONCEPTION = "tanh_grad overflowed"


def tanh_grad(x):
    return 1.0 / np.cosh(x) ** 2  # mathematically right, but cosh(1000) overflows
