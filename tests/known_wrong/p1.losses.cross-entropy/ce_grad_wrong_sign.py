MISCONCEPTION = "onehot - softmax flips the sign"


def cross_entropy_grad(logits, labels):
    n = logits.shape[0]
    onehot = np.zeros_like(logits)
    onehot[np.arange(n), labels] = 1.0
    return (onehot - np.exp(log_softmax(logits))) / n
