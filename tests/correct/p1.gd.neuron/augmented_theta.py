# Per-example gradients averaged over the batch for neuron_grads, and a fit that folds the bias into
# one parameter vector θ = [w, b] over inputs with a column of ones appended.


def neuron_grads(x, y, w, b):
    r = (x @ w + b) - y  # (N,)
    per_example_dw = 2.0 * r[:, None] * x  # (N, D): dL_n/dw for each example on its own
    return per_example_dw.mean(axis=0), float(np.mean(2.0 * r))


def gd_step(w, b, dw, db, lr):
    return np.subtract(w, np.multiply(lr, dw)), b - lr * db


def fit_neuron(x, y, lr, steps):
    n, d = x.shape
    xa = np.hstack([x, np.ones((n, 1))])  # (N, D + 1): the last weight plays the bias
    theta = np.zeros(d + 1)
    losses = []
    for _ in range(steps):
        r = xa @ theta - y
        losses.append(float(r @ r / n))
        theta = theta - lr * (2.0 / n) * (xa.T @ r)
    return theta[:d].copy(), float(theta[d]), losses
