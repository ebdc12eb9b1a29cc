MISCONCEPTION = "you put cos first"


def sinusoidal_encoding(T, d_model, base=10000.0):
    pos = torch.arange(T, dtype=torch.float32)[:, None]
    angles = pos * base ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    return torch.stack((angles.cos(), angles.sin()), dim=-1).reshape(T, d_model)
