"""Phase 1 · Activation functions, backward (reference)."""

import numpy as np

GELU_C = np.sqrt(2.0 / np.pi)  # GPT-2's tanh-approximation constants: u = GELU_C·(x + GELU_A·x³)
GELU_A = 0.044715


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(x: np.ndarray) -> np.ndarray:
    s = _sigmoid(x)
    return s * (1.0 - s)  # σ' = σ(1 - σ): reuses the stable forward value, peaks at 0.25 at x = 0


def tanh_grad(x: np.ndarray) -> np.ndarray:
    t = np.tanh(x)
    return 1.0 - t * t  # tanh' = 1 - tanh²; no cosh, so no overflow for large |x|


def relu_grad(x: np.ndarray) -> np.ndarray:
    return (x > 0).astype(x.dtype)  # strict >: the slope at the kink x = 0 is taken as 0


def gelu_grad(x: np.ndarray) -> np.ndarray:
    u = GELU_C * (x + GELU_A * x**3)
    t = np.tanh(u)
    du_dx = GELU_C * (1.0 + 3.0 * GELU_A * x**2)
    # product rule on 0.5·x·(1 + t), chain rule through t = tanh(u): dt/dx = (1 - t²)·du/dx
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du_dx


def softmax_backward(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    # the Jacobian is J = diag(y) - y yᵀ, so dy·J = y * dy - y * (y·dy): O(V) per row, not O(V²)
    dot = (y * dy).sum(axis=-1, keepdims=True)  # (..., 1): one y·dy per row
    return y * (dy - dot)  # (..., V)
