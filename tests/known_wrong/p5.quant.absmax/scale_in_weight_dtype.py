MISCONCEPTION = "the scales must be float32"

_reference_quantize = quantize


def quantize(w, granularity, group_size=None):
    q, scale = _reference_quantize(w, granularity, group_size)
    return q, scale.to(w.dtype)  # the scale kept in the weight's dtype
