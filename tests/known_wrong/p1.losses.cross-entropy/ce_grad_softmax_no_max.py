MISCONCEPTION = "cross_entropy_grad overflows for large logits"


def cross_entropy_grad(logits, labels):
    n = logits.shape[0]
    e = np.exp(logits)  # inf near 1000
    probs = e / e.sum(axis=1, keepdims=True)
    probs[np.arange(n), labels] -= 1.0
    return probs / n
