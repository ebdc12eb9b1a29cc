MISCONCEPTION = "must raise ValueError"

_reference_quantize = quantize


def quantize(w, granularity, group_size=None):
    if granularity == "group" and group_size is not None and w.shape[1] % group_size:
        w = w[:, : w.shape[1] // group_size * group_size]  # drop the columns of the short last group
        q, scale = _reference_quantize(w, granularity, group_size)
        return q, scale
    return _reference_quantize(w, granularity, group_size)
