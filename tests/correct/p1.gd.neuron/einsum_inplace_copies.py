# Residuals and both gradients through einsum, the update done in place on a copy of w, and a fit loop
# that measures the loss from the same residuals the gradients are computed from.


def _residuals(x, y, w, b):
    return np.einsum("nd,d->n", x, w) + b - y  # (N,): prediction minus target


def neuron_grads(x, y, w, b):
    r = _residuals(x, y, w, b)
    n = r.shape[0]
    dw = np.einsum("n,nd->d", r, x) * (2.0 / n)  # Σ_n r_n x_n, each residual with its own row
    db = 2.0 * np.sum(r) / n
    return dw, float(db)


def gd_step(w, b, dw, db, lr):
    new_w = np.array(w, dtype=np.result_type(w, dw, lr))  # a copy: the update below leaves the caller's w alone
    new_w -= lr * dw
    return new_w, b - lr * db


def fit_neuron(x, y, lr, steps):
    w = np.zeros(x.shape[1])
    b = 0.0
    losses = []
    for _ in range(steps):
        r = _residuals(x, y, w, b)
        losses.append(float(np.mean(r * r)))  # before this step's update
        w, b = gd_step(w, b, *neuron_grads(x, y, w, b), lr)
    return w, b, losses
