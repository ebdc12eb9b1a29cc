MISCONCEPTION = "sine and the cosine of ONE angle"


def sinusoidal_encoding(T, d_model, base=10000.0):
    pos = torch.arange(T, dtype=torch.float32)[:, None]
    angles = pos * base ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    pe = torch.zeros(T, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.sin(angles)  # pasted from the line above
    return pe
