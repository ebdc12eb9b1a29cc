MISCONCEPTION = "bias is missing"


def neuron_forward(x, w, b, activation=None):
    z = x @ w
    return z if activation is None else activation(z)
