MISCONCEPTION = "a positive number"


def cross_entropy(logits, labels):
    return log_softmax(logits)[np.arange(len(labels)), labels].mean()  # forgot the minus sign
