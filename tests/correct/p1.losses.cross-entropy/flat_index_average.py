# np.square and np.average for MSE; cross-entropy picks each row's label logit by flat indexing into the
# (N, C) array, and writes the gradient's -1 at the label the same way on a flattened copy.


def mse(pred, target):
    return np.average(np.square(np.subtract(pred, target)))


def mse_grad(pred, target):
    diff = np.subtract(pred, target)
    return np.multiply(diff, 2.0) / diff.size


def _flat_label_index(logits, labels):
    n, c = logits.shape
    return np.arange(n) * c + labels  # position of [n, labels[n]] in logits.ravel()


def cross_entropy(logits, labels):
    m = logits.max(axis=1)
    lse = m + np.log(np.exp(logits - m[:, None]).sum(axis=1))  # (N,), no exp above 0
    label_logit = logits.ravel()[_flat_label_index(logits, labels)]
    return float((lse - label_logit).sum() / logits.shape[0])


def cross_entropy_grad(logits, labels):
    n = logits.shape[0]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    flat = p.ravel()  # p is freshly made and contiguous: a view we may write through
    flat[_flat_label_index(logits, labels)] -= 1.0
    return p / n
