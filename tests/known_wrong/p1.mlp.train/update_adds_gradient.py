MISCONCEPTION = "adding the gradient climbs the loss"


def train(x, labels, hidden, lr, steps, seed=0):
    classes = int(labels.max()) + 1
    params = init_params(x.shape[1], hidden, classes, seed)
    losses = []
    for _ in range(steps):
        loss, grads = loss_and_grads(params, x, labels)
        losses.append(loss)
        for name in params:
            params[name] = params[name] + lr * grads[name]  # gradient ascent
    return params, losses
