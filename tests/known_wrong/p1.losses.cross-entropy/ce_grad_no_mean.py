MISCONCEPTION = "(softmax - onehot) / N"


def cross_entropy_grad(logits, labels):
    probs = np.exp(log_softmax(logits))
    probs[np.arange(logits.shape[0]), labels] -= 1.0
    return probs  # the gradient of the summed loss, not of the mean
