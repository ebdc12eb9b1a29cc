MISCONCEPTION = "is much slower than the reference"


def layer_norm(x, weight, bias, eps=1e-5):
    xf = _upcast(x)
    D = xf.shape[-1]
    rows = []
    for row in xf.reshape(-1, D):  # one row at a time: correct, but ~50 µs of Python per row
        mean = row.mean()
        var = ((row - mean) ** 2).mean()
        rows.append((row - mean) / torch.sqrt(var + eps))
    y = torch.stack(rows).reshape(xf.shape)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.to(x.dtype)
