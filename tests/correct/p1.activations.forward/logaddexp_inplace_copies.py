# sigmoid as exp(-log(1 + e^-x)) through np.logaddexp, which never overflows; tanh from NumPy; relu by
# clipping; gelu with the cube written out; softmax built in place on a fresh array.

_GELU_C = np.sqrt(2.0 / np.pi)


def sigmoid(x):
    # log σ(x) = -log(1 + e^-x) = -logaddexp(0, -x): exact for both signs, no cancellation
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))


def tanh(x):
    return np.tanh(x)


def relu(x):
    return np.clip(x, 0, None)  # a new array; x is left alone


def gelu(x):
    cube = x * x * x
    t = np.tanh(_GELU_C * (x + 0.044715 * cube))  # bounded in [-1, 1] whatever x is
    return 0.5 * x * (1.0 + t)


def softmax(x, axis=-1):
    out = np.array(x, dtype=float)  # a copy: everything below writes into it, never into x
    out -= out.max(axis=axis, keepdims=True)
    np.exp(out, out=out)
    out /= out.sum(axis=axis, keepdims=True)
    return out
