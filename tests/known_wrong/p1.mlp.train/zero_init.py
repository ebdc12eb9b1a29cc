MISCONCEPTION = "the symmetry is never broken"


def train(x, labels, hidden, lr, steps, seed=0):
    classes = int(labels.max()) + 1
    params = {k: np.zeros_like(v) for k, v in init_params(x.shape[1], hidden, classes, seed).items()}
    losses = []
    for _ in range(steps):
        loss, grads = loss_and_grads(params, x, labels)
        losses.append(loss)
        for name in params:
            params[name] = params[name] - lr * grads[name]
    return params, losses
