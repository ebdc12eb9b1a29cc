MISCONCEPTION = "cross_entropy overflows for large logits"


def cross_entropy(logits, labels):
    lse = np.log(np.exp(logits).sum(axis=1))  # exp(1000) = inf
    return (lse - logits[np.arange(len(labels)), labels]).mean()
