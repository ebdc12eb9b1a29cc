MISCONCEPTION = "not i/d_model"


def sinusoidal_encoding(T, d_model, base=10000.0):
    pos = torch.arange(T, dtype=torch.float32)[:, None]
    i = torch.arange(d_model // 2, dtype=torch.float32)  # the pair index, without the factor 2
    angles = pos / base ** (i / d_model)
    return torch.stack((angles.sin(), angles.cos()), dim=-1).reshape(T, d_model)
