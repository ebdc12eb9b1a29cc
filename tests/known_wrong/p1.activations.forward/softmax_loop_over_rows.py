MISCONCEPTION = "python loop over rows"


def softmax(x, axis=-1):
    x = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    flat = x.reshape(-1, x.shape[-1])
    out = np.empty_like(flat)
    for i, row in enumerate(flat):  # correct values, one row at a time
        e = np.exp(row - row.max())
        out[i] = e / e.sum()
    return np.moveaxis(out.reshape(x.shape), -1, axis)
