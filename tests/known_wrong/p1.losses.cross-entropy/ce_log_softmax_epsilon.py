MISCONCEPTION = "an epsilon inside the log caps the loss"


def cross_entropy(logits, labels):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return -np.log(probs[np.arange(len(labels)), labels] + 1e-12).mean()  # at most -log(1e-12) ≈ 27.6
