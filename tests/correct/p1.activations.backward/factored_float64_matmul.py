# σ' as σ(x)·σ(-x), tanh' as (1 - t)(1 + t), relu's slope written into a zero array, gelu's derivative
# expanded term by term, and softmax's row dot product as a batched matmul in float64, cast back after.


def sigmoid_grad(x):
    return _sigmoid(x) * _sigmoid(-x)  # 1 - σ(x) = σ(-x), computed without the subtraction


def tanh_grad(x):
    t = np.tanh(x)
    return (1.0 - t) * (1.0 + t)


def relu_grad(x):
    slope = np.zeros_like(x)
    slope[x > 0] = 1
    return slope


def gelu_grad(x):
    x2 = x * x
    t = np.tanh(GELU_C * x * (1.0 + GELU_A * x2))
    sech2 = (1.0 - t) * (1.0 + t)
    first = 0.5 * (1.0 + t)  # the derivative of x, times 0.5·(1 + t)
    second = 0.5 * x * sech2 * GELU_C * (1.0 + 3.0 * GELU_A * x2)  # x times the derivative of 0.5·(1 + t)
    return first + second


def softmax_backward(y, dy):
    out_dtype = np.result_type(y, dy)
    y64 = np.asarray(y, dtype=np.float64)
    dy64 = np.asarray(dy, dtype=np.float64)
    dot = np.matmul(y64[..., np.newaxis, :], dy64[..., :, np.newaxis])[..., 0]  # (..., 1, 1) -> (..., 1)
    return (y64 * (dy64 - dot)).astype(out_dtype, copy=False)
