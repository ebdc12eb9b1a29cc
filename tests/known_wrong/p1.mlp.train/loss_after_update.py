MISCONCEPTION = "losses[i] is the loss of the parameters before step i"


def train(x, labels, hidden, lr, steps, seed=0):
    classes = int(labels.max()) + 1
    params = init_params(x.shape[1], hidden, classes, seed)
    losses = []
    for _ in range(steps):
        _, grads = loss_and_grads(params, x, labels)
        for name in params:
            params[name] = params[name] - lr * grads[name]
        losses.append(loss_and_grads(params, x, labels)[0])  # recorded after the step: one step ahead
    return params, losses
