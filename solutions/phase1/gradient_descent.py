"""Phase 1 · Gradient descent on one linear neuron (reference)."""

import numpy as np


def neuron_grads(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> tuple[np.ndarray, float]:
    n = x.shape[0]
    r = x @ w + b - y  # (N,) residuals: prediction minus target
    # L = mean(r ** 2); dL/dr_n = 2 r_n / N, and dr_n/dw = x_n, dr_n/db = 1 (chain rule)
    dw = (2.0 / n) * (x.T @ r)  # (D, N) @ (N,) -> (D,): each residual weighs its own row of x
    db = 2.0 * r.mean()  # b is shared by every example, so its gradient collects all N of them
    return dw, float(db)


def gd_step(w: np.ndarray, b: float, dw: np.ndarray, db: float, lr: float) -> tuple[np.ndarray, float]:
    # step against the gradient (downhill); new arrays, so the caller's w is left as it was
    return w - lr * dw, b - lr * db


def fit_neuron(x: np.ndarray, y: np.ndarray, lr: float, steps: int) -> tuple[np.ndarray, float, list[float]]:
    w, b = np.zeros(x.shape[1]), 0.0  # (D,), scalar
    losses = []
    for _ in range(steps):
        losses.append(float(np.mean((x @ w + b - y) ** 2)))  # the loss this step starts from
        dw, db = neuron_grads(x, y, w, b)
        w, b = gd_step(w, b, dw, db, lr)
    return w, b, losses
