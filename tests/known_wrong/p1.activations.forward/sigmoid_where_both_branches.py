MISCONCEPTION = "np.where evaluates both branches"


def sigmoid(x):
    # looks stable, but np.where computes both formulas for every element before choosing
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-x)), np.exp(x) / (1.0 + np.exp(x)))
