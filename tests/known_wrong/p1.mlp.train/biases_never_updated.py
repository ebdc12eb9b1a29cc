MISCONCEPTION = "not every parameter follows gradient descent"


def train(x, labels, hidden, lr, steps, seed=0):
    classes = int(labels.max()) + 1
    params = init_params(x.shape[1], hidden, classes, seed)
    losses = []
    for _ in range(steps):
        loss, grads = loss_and_grads(params, x, labels)
        losses.append(loss)
        for name in ("W1", "W2"):  # the biases stay at zero
            params[name] = params[name] - lr * grads[name]
    return params, losses
