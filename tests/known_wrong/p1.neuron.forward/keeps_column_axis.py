MISCONCEPTION = "shape (N,)"


def neuron_forward(x, w, b, activation=None):
    z = x @ w.reshape(-1, 1) + b  # (N, 1): a column instead of one number per example
    return z if activation is None else activation(z)
