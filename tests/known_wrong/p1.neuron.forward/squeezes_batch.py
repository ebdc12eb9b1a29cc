MISCONCEPTION = "batch of one"


def neuron_forward(x, w, b, activation=None):
    z = (x @ w + b).squeeze()
    z = z if z.ndim else float(z)
    return z if activation is None else activation(z)
