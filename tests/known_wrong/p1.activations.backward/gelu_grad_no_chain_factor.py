MISCONCEPTION = "chain rule through"


def gelu_grad(x):
    t = np.tanh(GELU_C * (x + GELU_A * x**3))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t)  # forgets du/dx
