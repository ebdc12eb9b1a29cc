MISCONCEPTION = "tanh overflowed for large |x|"


def tanh(x):
    return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
