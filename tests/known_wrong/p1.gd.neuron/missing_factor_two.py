MISCONCEPTION = "differentiating the square"


def neuron_grads(x, y, w, b):
    r = x @ w + b - y
    return (x.T @ r) / len(y), float(r.mean())  # d(r²)/dr taken as r
