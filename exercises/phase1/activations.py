"""Phase 1 · Activation functions, forward.

Implement five activations with NumPy: sigmoid, tanh, relu, gelu and softmax. Each takes an
array of any shape and returns an array of the same shape. They must stay finite and raise no
overflow warning for inputs as large as ±1000: a language model's logits get large, and a single
inf turns every later number into nan.
"""

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-x)), elementwise.

    x: any shape.  Returns: the same shape, values in [0, 1].

    Pointer: exp(-|x|) never overflows; write sigmoid for x >= 0 and for x < 0 in terms of it.
    """
    raise NotImplementedError


def tanh(x: np.ndarray) -> np.ndarray:
    """The hyperbolic tangent, elementwise.

    x: any shape.  Returns: the same shape, values in [-1, 1].

    Pointer: tanh(x) = 2·sigmoid(2x) - 1, or NumPy's own np.tanh.
    """
    raise NotImplementedError


def relu(x: np.ndarray) -> np.ndarray:
    """The rectified linear unit max(x, 0), elementwise.

    x: any shape.  Returns: a new array of the same shape; x itself is left unchanged.

    Pointer: np.maximum compares elementwise; np.max reduces an axis away.
    """
    raise NotImplementedError


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, in the tanh approximation that GPT-2 uses (not the exact erf form):

        gelu(x) = 0.5 · x · (1 + tanh(sqrt(2/π) · (x + 0.044715 · x³)))

    x: any shape.  Returns: the same shape.

    Pointer: np.sqrt(2 / np.pi) is the constant in front of the bracket.
    """
    raise NotImplementedError


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(x) normalised to sum to 1 along `axis`.

    x: any shape, e.g. logits (N, C).  Returns: the same shape; every slice along `axis` sums to 1.

    Pointer: softmax(x) = softmax(x - c) for any c constant along `axis`; choose
    c = x.max(axis=axis, keepdims=True) so the largest exponent is exp(0) = 1.
    """
    raise NotImplementedError
