MISCONCEPTION = "relu modified its input array in place"


def relu(x):
    x[x < 0] = 0  # overwrites the caller's array
    return x
