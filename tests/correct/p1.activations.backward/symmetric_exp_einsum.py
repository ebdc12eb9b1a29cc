# Derivatives written from e = exp(-|x|) (σ' and tanh' are even functions, so no cancellation on either
# side), relu's slope through np.heaviside, gelu's derivative through σ(2u), and the row dot product of
# softmax's vector-Jacobian product through einsum.


def sigmoid_grad(x):
    e = np.exp(-np.abs(x))  # in (0, 1]
    return e / ((1.0 + e) * (1.0 + e))  # σ(x)(1 - σ(x)) = e^-x / (1 + e^-x)², the same for -x


def tanh_grad(x):
    e = np.exp(-2.0 * np.abs(x))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))  # sech²(x) = 4 / (e^x + e^-x)², divided through by e^2|x|


def relu_grad(x):
    return np.heaviside(x, 0.0).astype(x.dtype, copy=False)  # the second argument is the value at x = 0


def gelu_grad(x):
    u = GELU_C * (x + GELU_A * x**3)
    s = _sigmoid(2.0 * u)  # 0.5·(1 + tanh(u))
    ds = sigmoid_grad(2.0 * u)  # 0.25·(1 - tanh(u)²)
    du_dx = GELU_C * (1.0 + 3.0 * GELU_A * x**2)
    # d/dx [x·σ(2u)] = σ(2u) + x·σ'(2u)·2·du/dx
    return s + 2.0 * x * ds * du_dx


def softmax_backward(y, dy):
    row_dot = np.einsum("...v,...v->...", y, dy)[..., np.newaxis]  # (..., 1): Σ_i y_i dy_i
    return y * dy - y * row_dot
