"""Phase 1 · A two-layer MLP and its backward pass, by hand (reference)."""

import numpy as np


def init_params(D: int, H: int, C: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    # He scale: a ReLU zeroes about half of its inputs, so a weight variance of 2 / fan_in keeps
    # the activations' size steady from layer to layer
    return {
        "W1": rng.standard_normal((D, H)) * np.sqrt(2.0 / D),
        "b1": np.zeros(H),
        "W2": rng.standard_normal((H, C)) * np.sqrt(2.0 / H),
        "b2": np.zeros(C),
    }


def log_softmax(logits: np.ndarray) -> np.ndarray:
    # softmax(z) == softmax(z - max z): after the shift the largest exponent is exp(0) = 1, never inf
    shifted = logits - logits.max(axis=1, keepdims=True)  # (N, C)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def mlp_forward(params: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, tuple]:
    z1 = x @ params["W1"] + params["b1"]  # (N, D) @ (D, H) -> (N, H)
    h = np.maximum(z1, 0.0)  # (N, H)
    logits = h @ params["W2"] + params["b2"]  # (N, H) @ (H, C) -> (N, C)
    return logits, (x, z1, h)


def loss_and_grads(params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray) -> tuple[float, dict]:
    n = x.shape[0]
    rows = np.arange(n)
    logits, (x, z1, h) = mlp_forward(params, x)
    logp = log_softmax(logits)  # (N, C)
    loss = -logp[rows, labels].mean()

    # backward: the forward graph in reverse, one local derivative per line
    dlogits = np.exp(logp)  # (N, C) softmax probabilities
    dlogits[rows, labels] -= 1.0  # d(-log p_label)/d logits = p - onehot(label)
    dlogits /= n  # the loss is a mean over the batch
    dW2 = h.T @ dlogits  # (H, N) @ (N, C) -> (H, C)
    db2 = dlogits.sum(axis=0)  # (C,): b2 was added to every example
    dh = dlogits @ params["W2"].T  # (N, C) @ (C, H) -> (N, H)
    dz1 = dh * (z1 > 0)  # ReLU passes the gradient only where it was on
    dW1 = x.T @ dz1  # (D, N) @ (N, H) -> (D, H)
    db1 = dz1.sum(axis=0)  # (H,)
    return float(loss), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
