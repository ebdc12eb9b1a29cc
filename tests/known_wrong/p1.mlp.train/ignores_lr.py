MISCONCEPTION = "the learning rate scales the step"


def train(x, labels, hidden, lr, steps, seed=0):
    classes = int(labels.max()) + 1
    params = init_params(x.shape[1], hidden, classes, seed)
    losses = []
    for _ in range(steps):
        loss, grads = loss_and_grads(params, x, labels)
        losses.append(loss)
        for name in params:
            params[name] = params[name] - grads[name]  # lr forgotten: right only when lr happens to be 1
    return params, losses
