"""Phase 1 · A single neuron's forward pass.

Implement `neuron_forward`: a batch of inputs through one neuron, z = x·w + b, then the
activation. Use only NumPy, no Python loops over the batch.
"""

import numpy as np


def neuron_forward(x: np.ndarray, w: np.ndarray, b: float, activation=None) -> np.ndarray:
    """One neuron on a batch.

    x: (N, D) inputs, one example per row.  w: (D,) weights.  b: scalar bias.
    activation: a function applied elementwise to the pre-activation z, or None for identity.
    Returns: (N,) outputs, one per example.

    Pointer: `x @ w` contracts the last axis of x with w.
    """
    raise NotImplementedError
