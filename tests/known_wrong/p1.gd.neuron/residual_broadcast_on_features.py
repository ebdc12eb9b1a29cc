MISCONCEPTION = "its own row of x"


def neuron_grads(x, y, w, b):
    r = x @ w + b - y  # (N,)
    dw = 2.0 * np.mean(x * r, axis=0)  # (N, D) * (N,) pairs r with the feature axis, not the rows
    return dw, float(2.0 * r.mean())
