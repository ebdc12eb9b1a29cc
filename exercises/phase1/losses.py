"""Phase 1 · Losses: mean squared error and cross-entropy, with their gradients.

Implement `mse` and `mse_grad` for regression, then `cross_entropy` and `cross_entropy_grad`
for classification over C classes, the loss every language model trains on. Both losses are
means, so their gradients carry a 1/size factor. Cross-entropy must stay finite for logits in
the thousands and for confidently wrong predictions: compute it with log-sum-exp, never as
log(softmax(...)). Use only NumPy; this file imports nothing from your other files.
"""

import numpy as np


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error: the mean over ALL elements of (pred - target)².

    pred, target: the same shape, any.  Returns: a scalar.

    Pointer: `np.mean` with no axis averages over every element.
    """
    raise NotImplementedError


def mse_grad(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """d mse / d pred.

    pred, target: the same shape.  Returns: the shape of pred.

    Pointer: differentiate one term (pred_i - target_i)² / size with respect to pred_i.
    """
    raise NotImplementedError


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the correct classes.

    logits: (N, C) unnormalised scores.  labels: (N,) integers in [0, C).
    Returns: a scalar, mean over n of -log softmax(logits[n])[labels[n]].

    Pointer: -log softmax(z)[k] = logsumexp(z) - z[k], and
    logsumexp(z) = m + log(sum(exp(z - m))) with m = max(z).
    """
    raise NotImplementedError


def cross_entropy_grad(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """d cross_entropy / d logits.

    logits: (N, C).  labels: (N,) integers in [0, C).  Returns: (N, C).

    Pointer: per example the gradient is softmax(logits[n]) - onehot(labels[n]); the loss is a mean.
    """
    raise NotImplementedError
