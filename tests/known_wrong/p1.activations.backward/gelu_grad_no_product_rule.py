MISCONCEPTION = "product rule"


def gelu_grad(x):
    u = GELU_C * (x + GELU_A * x**3)
    return 0.5 * (1.0 + np.tanh(u))  # only the derivative of the x factor
