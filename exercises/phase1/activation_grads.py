"""Phase 1 · Activation functions, backward.

Implement the derivatives of the activations, the pieces backpropagation multiplies together:
sigmoid_grad, tanh_grad, relu_grad and gelu_grad return f'(x) elementwise; softmax_backward
returns the gradient with respect to softmax's input, given its output and the upstream gradient.
This file stands alone: `_sigmoid` below is given, and nothing is imported from your other files.
"""

import numpy as np

GELU_C = np.sqrt(2.0 / np.pi)  # GPT-2's tanh-approximation constants: u = GELU_C·(x + GELU_A·x³)
GELU_A = 0.044715


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Given: a numerically stable sigmoid, as you wrote it in activations.py."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(x: np.ndarray) -> np.ndarray:
    """d sigmoid(x) / dx, elementwise.

    x: any shape (the input of sigmoid, not its output).  Returns: the same shape.

    Pointer: the derivative is easiest to write in terms of s = sigmoid(x).
    """
    raise NotImplementedError


def tanh_grad(x: np.ndarray) -> np.ndarray:
    """d tanh(x) / dx, elementwise.

    x: any shape (the input of tanh).  Returns: the same shape.

    Pointer: like sigmoid's, this derivative is a polynomial in the forward value t = tanh(x).
    """
    raise NotImplementedError


def relu_grad(x: np.ndarray) -> np.ndarray:
    """d relu(x) / dx, elementwise: 1 where x > 0, else 0 (at x = 0 exactly, 0 by convention).

    x: any shape.  Returns: the same shape, as numbers (0.0 and 1.0).

    Pointer: a boolean mask turns into 0.0/1.0 with `.astype(x.dtype)`.
    """
    raise NotImplementedError


def gelu_grad(x: np.ndarray) -> np.ndarray:
    """d gelu(x) / dx for GPT-2's tanh approximation gelu(x) = 0.5·x·(1 + tanh(u)),
    with u = GELU_C·(x + GELU_A·x³).

    x: any shape.  Returns: the same shape.

    Pointer: gelu is a product of x and 0.5·(1 + tanh(u)); tanh(u) depends on x through u.
    """
    raise NotImplementedError


def softmax_backward(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """The gradient with respect to softmax's input x, where y = softmax(x, axis=-1).

    y:  (..., V) softmax outputs; each row along the last axis sums to 1.
    dy: (..., V) upstream gradient dL/dy.
    Returns: (..., V) dL/dx, the vector-Jacobian product dy·J for each row.

    Pointer: never build the (V, V) Jacobian; write sum_j dL/dy_j · dy_j/dx_i in closed form.
    """
    raise NotImplementedError
