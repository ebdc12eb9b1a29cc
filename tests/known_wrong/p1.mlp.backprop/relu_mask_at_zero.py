MISCONCEPTION = "at z1 = 0 exactly, ReLU's slope is 0"


def loss_and_grads(params, x, labels):
    n = x.shape[0]
    rows = np.arange(n)
    logits, (x, z1, h) = mlp_forward(params, x)
    logp = log_softmax(logits)
    loss = -logp[rows, labels].mean()
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1.0
    dlogits /= n
    dW2 = h.T @ dlogits
    db2 = dlogits.sum(axis=0)
    dh = dlogits @ params["W2"].T
    dz1 = dh * (z1 >= 0)  # lets the gradient through at the kink
    dW1 = x.T @ dz1
    db1 = dz1.sum(axis=0)
    return float(loss), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
