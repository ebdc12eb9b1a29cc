MISCONCEPTION = "update both w and b"


def fit_neuron(x, y, lr, steps):
    w, b = np.zeros(x.shape[1]), 0.0
    losses = []
    for _ in range(steps):
        losses.append(float(np.mean((x @ w + b - y) ** 2)))
        dw, db = neuron_grads(x, y, w, b)
        w = w - lr * dw  # b is never updated
    return w, b, losses
