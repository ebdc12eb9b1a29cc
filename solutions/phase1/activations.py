"""Phase 1 · Activation functions, forward (reference)."""

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    # exp(-|x|) lies in (0, 1], so neither branch can overflow (np.where evaluates both)
    e = np.exp(-np.abs(x))
    # x >= 0: 1 / (1 + e^-x);  x < 0: e^x / (1 + e^x), which keeps tiny values like sigmoid(-40)
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)  # NumPy's tanh saturates to ±1 without overflow


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)  # elementwise, and a new array: x is not modified


def gelu(x: np.ndarray) -> np.ndarray:
    # GPT-2's tanh approximation of x·Φ(x), Φ the standard normal CDF
    inner = np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)
    return 0.5 * x * (1.0 + np.tanh(inner))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    # subtracting each slice's max changes nothing mathematically, but the largest exponent
    # becomes exp(0) = 1: no overflow, and the sum is at least 1, so no division by zero
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)  # keepdims: the sums broadcast back along `axis`
