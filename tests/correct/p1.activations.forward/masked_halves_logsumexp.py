# Each sign handled on its own half through boolean masks (exp only ever sees a non-positive number),
# tanh from expm1 so small inputs keep their digits, gelu as x·σ(2u), and softmax as exp(x - logsumexp).


def sigmoid(x):
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))  # -x <= 0 here
    e = np.exp(x[~pos])  # x < 0 here
    out[~pos] = e / (1.0 + e)
    return out


def tanh(x):
    x = np.asarray(x, dtype=float)
    m = np.expm1(-2.0 * np.abs(x))  # exp(-2|x|) - 1, in [-1, 0]: precise even for tiny |x|
    return np.sign(x) * (-m / (2.0 + m))  # tanh(|x|) = (1 - e) / (1 + e), e = exp(-2|x|)


def relu(x):
    return np.where(x > 0, x, np.zeros_like(x))


def gelu(x):
    x = np.asarray(x, dtype=float)
    u = np.sqrt(2.0 / np.pi) * (x + 0.044715 * x * x * x)
    return x * sigmoid(2.0 * u)  # 0.5·(1 + tanh(u)) = σ(2u)


def softmax(x, axis=-1):
    top = np.max(x, axis=axis, keepdims=True)
    shifted = x - top  # every entry <= 0, so exp cannot overflow
    lse = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))  # >= 0: the max term is exp(0) = 1
    return np.exp(shifted - lse)
