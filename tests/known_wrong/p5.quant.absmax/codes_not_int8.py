MISCONCEPTION = "q must be a torch.int8 tensor"

_reference_quantize = quantize


def quantize(w, granularity, group_size=None):
    q, scale = _reference_quantize(w, granularity, group_size)
    return q.float(), scale  # rounded, but kept as floats
