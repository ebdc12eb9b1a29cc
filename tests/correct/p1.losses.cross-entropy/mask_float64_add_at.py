# Sums divided by the element count, float64 throughout; cross-entropy through a boolean label mask
# (labels[:, None] == arange(C)) and an explicit shift by the row max, and the gradient's -1 at each
# label written with np.add.at.


def mse(pred, target):
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return float(np.sum(diff * diff) / diff.size)


def mse_grad(pred, target):
    return (pred - target) * (2.0 / pred.size)


def _shifted_and_lse(logits):
    z = np.asarray(logits, dtype=np.float64)
    shifted = z - np.max(z, axis=1, keepdims=True)  # each row's top logit becomes 0
    lse = np.log(np.sum(np.exp(shifted), axis=1))  # (N,); the sum is at least 1
    return shifted, lse


def cross_entropy(logits, labels):
    shifted, lse = _shifted_and_lse(logits)
    is_label = labels[:, None] == np.arange(shifted.shape[1])  # (N, C), one True per row
    picked = np.sum(np.where(is_label, shifted, 0.0), axis=1)  # (N,): the label's shifted logit
    return float(np.mean(lse - picked))  # -log softmax at the label, averaged


def cross_entropy_grad(logits, labels):
    shifted, lse = _shifted_and_lse(logits)
    n = shifted.shape[0]
    grad = np.exp(shifted - lse[:, None])
    np.add.at(grad, (np.arange(n), labels), -1.0)
    grad /= n
    return grad
