MISCONCEPTION = "sum over the batch axis"


def loss_and_grads(params, x, labels):
    n = x.shape[0]
    rows = np.arange(n)
    logits, (x, z1, h) = mlp_forward(params, x)
    logp = log_softmax(logits)
    loss = -logp[rows, labels].mean()
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1.0
    dlogits /= n
    dh = dlogits @ params["W2"].T
    dz1 = dh * (z1 > 0)
    # the per-example bias gradients, never reduced over the batch: (N, H) and (N, C)
    return float(loss), {"W1": x.T @ dz1, "b1": dz1, "W2": h.T @ dlogits, "b2": dlogits}
