MISCONCEPTION = "sigmoid overflowed for large |x|"


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))  # exp(1000) overflows at x = -1000
