MISCONCEPTION = "weighted sum is wrong"


def neuron_forward(x, w, b, activation=None):
    z = (x * w).mean(axis=1) + b  # averages instead of summing the products
    return z if activation is None else activation(z)
