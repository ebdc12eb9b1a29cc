"""Phase 1 · A single neuron's forward pass (reference)."""

import numpy as np


def neuron_forward(x: np.ndarray, w: np.ndarray, b: float, activation=None) -> np.ndarray:
    z = x @ w + b  # (N, D) @ (D,) -> (N,); b broadcasts over the batch
    return z if activation is None else activation(z)
