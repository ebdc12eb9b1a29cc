MISCONCEPTION = "names both numbers"

_reference_quantize = quantize


def quantize(w, granularity, group_size=None):
    if granularity == "group" and (group_size is None or w.shape[1] % group_size):
        raise ValueError("bad group size")
    return _reference_quantize(w, granularity, group_size)
