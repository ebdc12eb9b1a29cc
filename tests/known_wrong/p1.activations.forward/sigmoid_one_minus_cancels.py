MISCONCEPTION = "cancel catastrophically"


def sigmoid(x):
    s = 1.0 / (1.0 + np.exp(-np.abs(x)))  # sigmoid(|x|), no overflow
    return np.where(x >= 0, s, 1.0 - s)  # 1 - (1 - 4e-18) is 0 in float64
