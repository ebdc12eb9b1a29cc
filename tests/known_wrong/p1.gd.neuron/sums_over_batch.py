MISCONCEPTION = "repeating every example twice"


def neuron_grads(x, y, w, b):
    r = x @ w + b - y
    return 2.0 * (x.T @ r), float(2.0 * r.sum())  # a sum: N times the gradient of the mean
