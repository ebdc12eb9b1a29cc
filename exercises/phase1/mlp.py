"""Phase 1 · A two-layer MLP and its backward pass, by hand.

x (N, D) -> z1 = x @ W1 + b1 -> h = relu(z1) (N, H) -> logits = h @ W2 + b2 (N, C), trained with
softmax cross-entropy averaged over the batch. Write the initialization, the forward pass, and
the loss with the gradient of every parameter, derived with the chain rule. NumPy only; this
file must stand alone (write your own numerically stable softmax / cross-entropy here).
"""

import numpy as np


def init_params(D: int, H: int, C: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights, zero biases: {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}.

    He (Kaiming) scale: each weight matrix is standard normal times sqrt(2 / fan_in), where
    fan_in is its number of rows. Draw W1 first, then W2, from rng = np.random.default_rng(seed)
    with rng.standard_normal, so the same seed always gives the same network.

    Pointer: `rng.standard_normal((D, H)) * np.sqrt(2.0 / D)`.
    """
    raise NotImplementedError


def mlp_forward(params: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Forward pass on a batch.

    params: as returned by init_params.  x: (N, D).
    Returns: (logits (N, C), cache), where cache holds whatever the backward pass will need
    (the intermediate arrays of the forward pass).

    Pointer: the logits are raw scores: no softmax or ReLU on them, the softmax belongs to the loss.
    """
    raise NotImplementedError


def loss_and_grads(params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray) -> tuple[float, dict]:
    """Mean softmax cross-entropy over the batch, and its gradient for every parameter.

    params: as returned by init_params.  x: (N, D).  labels: (N,) integers in [0, C).
    Returns: (loss float, grads) where grads has the keys of params, each with its parameter's shape.

    Pointer: for one example, d loss / d logits = softmax(logits) − onehot(label); go backwards
    from there, one layer at a time.
    """
    raise NotImplementedError
