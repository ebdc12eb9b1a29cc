MISCONCEPTION = "every gradient carries its 1/N"


def loss_and_grads(params, x, labels):
    n = x.shape[0]
    rows = np.arange(n)
    logits, (x, z1, h) = mlp_forward(params, x)
    logp = log_softmax(logits)
    loss = -logp[rows, labels].mean()  # a mean ...
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1.0  # ... but the gradient of a sum: no / n
    dz1 = (dlogits @ params["W2"].T) * (z1 > 0)
    return float(loss), {"W1": x.T @ dz1, "b1": dz1.sum(axis=0), "W2": h.T @ dlogits, "b2": dlogits.sum(axis=0)}
