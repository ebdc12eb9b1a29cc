MISCONCEPTION = "normalizing over that example's c classes"


def log_softmax(logits):
    shifted = logits - logits.max(axis=0, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))  # normalizes each class over the batch
