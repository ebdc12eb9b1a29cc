# Parameters updated in place (init_params hands back fresh arrays, so nothing outside is touched) in a
# fixed key order, and accuracy as a count of correct predictions over the number of examples.


def train(x, labels, hidden, lr, steps, seed=0):
    n_classes = int(np.max(labels)) + 1
    params = init_params(x.shape[1], hidden, n_classes, seed)
    losses = []
    step = 0
    while step < steps:
        loss, grads = loss_and_grads(params, x, labels)
        losses.append(float(loss))  # the loss of the parameters this step starts from
        for key in ("W1", "b1", "W2", "b2"):
            params[key] -= lr * grads[key]
        step += 1
    return params, losses


def accuracy(params, x, labels):
    logits, _ = mlp_forward(params, x)
    predicted = np.argmax(logits, axis=-1)  # (N,): the class with the highest score
    return np.count_nonzero(predicted == labels) / labels.shape[0]
