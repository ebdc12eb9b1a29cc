"""Phase 1 · Train your MLP on spirals (reference)."""

import numpy as np

from mlp import init_params, loss_and_grads, mlp_forward


def make_spirals(n_per_class: int = 100, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xs, labels = [], []
    for c in range(classes):
        radius = np.linspace(0.0, 1.0, n_per_class)  # from the centre outwards
        angle = np.linspace(4.0 * c, 4.0 * (c + 1), n_per_class) + 0.2 * rng.standard_normal(n_per_class)
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        labels.append(np.full(n_per_class, c))
    return np.concatenate(xs), np.concatenate(labels)


def train(x: np.ndarray, labels: np.ndarray, hidden: int, lr: float, steps: int, seed: int = 0) -> tuple[dict, list[float]]:
    classes = int(labels.max()) + 1
    params = init_params(x.shape[1], hidden, classes, seed)  # random weights: they break the symmetry
    losses = []
    for _ in range(steps):
        loss, grads = loss_and_grads(params, x, labels)  # the whole batch: plain gradient descent
        losses.append(loss)
        for name in params:  # every parameter, weights and biases of both layers
            params[name] = params[name] - lr * grads[name]
    return params, losses


def accuracy(params: dict, x: np.ndarray, labels: np.ndarray) -> float:
    logits, _ = mlp_forward(params, x)  # (N, C)
    return float(np.mean(logits.argmax(axis=1) == labels))  # argmax over the classes, one per example
