# Every function computes in float64 and casts back to the input's float dtype (integers come out as
# float64); sigmoid reuses one reciprocal for both signs, relu is np.fmax, softmax multiplies by the
# reciprocal of each slice's sum.


def _as64(x):
    x = np.asarray(x)
    out_dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
    return x.astype(np.float64), out_dtype


def sigmoid(x):
    x64, dt = _as64(x)
    e = np.exp(-np.abs(x64))  # at most 1
    r = 1.0 / (1.0 + e)  # σ(|x|)
    return np.where(x64 >= 0, r, e * r).astype(dt)  # σ(-|x|) = e·σ(|x|), no subtraction from 1


def tanh(x):
    x64, dt = _as64(x)
    return np.tanh(x64).astype(dt)


def relu(x):
    x = np.asarray(x)
    return np.fmax(x, np.zeros((), dtype=x.dtype))  # a fresh array of x's dtype


def gelu(x):
    x64, dt = _as64(x)
    k = np.sqrt(2.0 / np.pi)
    return (0.5 * x64 * (1.0 + np.tanh(k * x64 * (1.0 + 0.044715 * x64 * x64)))).astype(dt)


def softmax(x, axis=-1):
    x64, dt = _as64(x)
    e = np.exp(x64 - np.amax(x64, axis=axis, keepdims=True))
    return (e * np.reciprocal(np.sum(e, axis=axis, keepdims=True))).astype(dt)
