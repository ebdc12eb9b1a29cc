MISCONCEPTION = "activation goes on the pre-activation"


def neuron_forward(x, w, b, activation=None):
    if activation is not None:
        x = activation(x)
    return x @ w + b
