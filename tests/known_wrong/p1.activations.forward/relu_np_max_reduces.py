MISCONCEPTION = "np.max(x, 0) reduces axis 0 away"


def relu(x):
    return np.max(x, 0)  # a reduction over axis 0, not an elementwise max with 0
