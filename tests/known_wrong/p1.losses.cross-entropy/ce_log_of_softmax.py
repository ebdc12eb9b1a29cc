MISCONCEPTION = "cross_entropy is inf for a confidently wrong prediction"


def cross_entropy(logits, labels):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)  # stable softmax, but e^-800 is exactly 0
    return -np.log(probs[np.arange(len(labels)), labels]).mean()
