"""Phase 1 · Losses: mean squared error and cross-entropy (reference)."""

import numpy as np


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    return np.mean((pred - target) ** 2)  # mean over every element, whatever the shape


def mse_grad(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    # d/dpred_i of (1/size)·sum_j (pred_j - target_j)²: the 2 from the square, the 1/size from the mean
    return 2.0 * (pred - target) / pred.size


def log_softmax(logits: np.ndarray) -> np.ndarray:
    # log softmax(z) = z - logsumexp(z); shifting by the row max keeps exp() in (0, 1]
    m = logits.max(axis=-1, keepdims=True)  # (N, 1)
    lse = m + np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))  # (N, 1); the sum is >= 1
    return logits - lse  # (N, C), finite even where softmax itself underflows to 0


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    n = logits.shape[0]
    logp = log_softmax(logits)  # (N, C)
    return -logp[np.arange(n), labels].mean()  # pick each row's correct class, average over the batch


def cross_entropy_grad(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    n = logits.shape[0]
    probs = np.exp(log_softmax(logits))  # (N, C) softmax, computed stably
    probs[np.arange(n), labels] -= 1.0  # softmax - onehot(labels)
    return probs / n  # the loss is a mean over N examples
