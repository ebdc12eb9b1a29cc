# σ' and tanh' evaluated in the log domain (log1p keeps every digit, exp of a very negative number just
# underflows to 0), relu's slope as the clipped sign, and the vector-Jacobian product built in place on
# the product y·dy, whose own row sums give Σ_i y_i dy_i.


def sigmoid_grad(x):
    a = np.abs(x)
    return np.exp(-a - 2.0 * np.log1p(np.exp(-a)))  # e^-a / (1 + e^-a)²


def tanh_grad(x):
    a2 = 2.0 * np.abs(x)
    return np.exp(np.log(4.0) - a2 - 2.0 * np.log1p(np.exp(-a2)))  # 4e^-2a / (1 + e^-2a)²


def relu_grad(x):
    return np.clip(np.sign(x), 0, 1).astype(x.dtype)  # sign(0) = 0: the slope at the kink is 0


def gelu_grad(x):
    poly = 1.0 + GELU_A * x * x
    t = np.tanh(GELU_C * x * poly)
    du_dx = GELU_C * (poly + 2.0 * GELU_A * x * x)  # d/dx [x·poly] = poly + x·2·GELU_A·x
    return 0.5 * ((1.0 + t) + x * (1.0 - t * t) * du_dx)


def softmax_backward(y, dy):
    out = y * dy  # a new array
    out -= y * out.sum(axis=-1, keepdims=True)  # y_j·dy_j − y_j·Σ_i y_i dy_i
    return out
