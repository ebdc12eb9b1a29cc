"""Phase 1 · Train your MLP on spirals.

Three interleaved spiral arms cannot be separated by a straight line; a two-layer MLP can learn
them. `make_spirals` is given. Write `train`, plain full-batch gradient descent built on YOUR
init_params and loss_and_grads from mlp.py (step p1.mlp.backprop), and `accuracy`.
NumPy only.
"""

import numpy as np

from mlp import init_params, loss_and_grads, mlp_forward


def make_spirals(n_per_class: int = 100, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`classes` noisy spiral arms in the plane: x (n_per_class * classes, 2), labels (same N,) ints.

    Given complete: read it, don't change it.
    """
    rng = np.random.default_rng(seed)
    xs, labels = [], []
    for c in range(classes):
        radius = np.linspace(0.0, 1.0, n_per_class)  # from the centre outwards
        angle = np.linspace(4.0 * c, 4.0 * (c + 1), n_per_class) + 0.2 * rng.standard_normal(n_per_class)
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        labels.append(np.full(n_per_class, c))
    return np.concatenate(xs), np.concatenate(labels)


def train(x: np.ndarray, labels: np.ndarray, hidden: int, lr: float, steps: int, seed: int = 0) -> tuple[dict, list[float]]:
    """Train a D -> hidden -> C MLP by `steps` steps of full-batch gradient descent.

    x: (N, D) inputs.  labels: (N,) ints; the number of classes is C = labels.max() + 1.
    Start from init_params(D, hidden, C, seed); each step computes loss_and_grads on the whole
    batch and updates every parameter.
    Returns: (params, losses) with losses[t] the loss at the parameters step t starts from.

    Pointer: one step is `params[k] = params[k] - lr * grads[k]` for every key k.
    """
    raise NotImplementedError


def accuracy(params: dict, x: np.ndarray, labels: np.ndarray) -> float:
    """Fraction (0 to 1) of the examples whose highest logit is their label.

    x: (N, D).  labels: (N,) ints.  Returns: a float.

    Pointer: mlp_forward gives logits of shape (N, C); the predicted class is an argmax.
    """
    raise NotImplementedError
