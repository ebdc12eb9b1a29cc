"""Phase 1 · Gradient descent on one linear neuron.

A linear neuron predicts y_hat = x·w + b. Its loss on a batch is the mean squared error
L = mean((x @ w + b - y) ** 2). Derive dL/dw and dL/db with the chain rule, write one
gradient-descent step, then fit a neuron to data starting from w = 0, b = 0.
NumPy only, no Python loops over the batch.
"""

import numpy as np


def neuron_grads(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> tuple[np.ndarray, float]:
    """Gradients of L = mean((x @ w + b - y) ** 2) with respect to w and b.

    x: (N, D) inputs.  y: (N,) targets.  w: (D,) weights.  b: scalar bias.
    Returns: (dw, db) with dw of shape (D,) and db a single float.

    Pointer: start from the residual r = x @ w + b - y, shape (N,); L is the mean of r ** 2.
    """
    raise NotImplementedError


def gd_step(w: np.ndarray, b: float, dw: np.ndarray, db: float, lr: float) -> tuple[np.ndarray, float]:
    """One step of gradient descent with learning rate lr.

    w: (D,), b: scalar, dw: (D,), db: scalar.  Returns: the new (w, b), same shapes.

    Pointer: the gradient points in the direction in which the loss grows fastest.
    """
    raise NotImplementedError


def fit_neuron(x: np.ndarray, y: np.ndarray, lr: float, steps: int) -> tuple[np.ndarray, float, list[float]]:
    """Fit w and b by `steps` steps of gradient descent on the whole batch, from w = 0, b = 0.

    x: (N, D) inputs.  y: (N,) targets.
    Returns: (w (D,), b float, losses) where losses[t] is the loss at the parameters step t
    starts from, so len(losses) == steps and losses[0] == mean(y ** 2).

    Pointer: each step is: record the loss, `neuron_grads`, then `gd_step`.
    """
    raise NotImplementedError
