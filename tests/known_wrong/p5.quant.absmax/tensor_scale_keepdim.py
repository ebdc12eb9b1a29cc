MISCONCEPTION = "a 0-dim tensor"

_reference_quantize = quantize


def quantize(w, granularity, group_size=None):
    q, scale = _reference_quantize(w, granularity, group_size)
    return q, scale.view(1, 1) if granularity == "tensor" else scale
