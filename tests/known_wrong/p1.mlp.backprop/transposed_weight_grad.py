MISCONCEPTION = "gradient of a matmul"


def loss_and_grads(params, x, labels):
    n = x.shape[0]
    rows = np.arange(n)
    logits, (x, z1, h) = mlp_forward(params, x)
    logp = log_softmax(logits)
    loss = -logp[rows, labels].mean()
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1.0
    dlogits /= n
    dz1 = (dlogits @ params["W2"].T) * (z1 > 0)
    dW2 = dlogits.T @ h  # (C, H): the transpose of W2's shape
    return float(loss), {"W1": x.T @ dz1, "b1": dz1.sum(axis=0), "W2": dW2, "b2": dlogits.sum(axis=0)}
