MISCONCEPTION = "count the positions in float32"


def sinusoidal_encoding(T, d_model, base=10000.0):
    pos = torch.arange(T, dtype=torch.float16).float()[:, None]  # float16 positions: 2049 reads as 2048
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos * base ** (-two_i / d_model)
    pe = torch.zeros(T, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angles), torch.cos(angles)
    return pe
