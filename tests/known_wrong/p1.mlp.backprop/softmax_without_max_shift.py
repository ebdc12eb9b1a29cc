MISCONCEPTION = "subtract the row's max logit"


def log_softmax(logits):
    e = np.exp(logits)  # overflows to inf once a logit passes ~709
    return np.log(e / e.sum(axis=1, keepdims=True))
