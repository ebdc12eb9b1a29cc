MISCONCEPTION = "changed its input in place"

_reference_quantize = quantize


def quantize(w, granularity, group_size=None):
    q, scale = _reference_quantize(w.clone(), granularity, group_size)
    if w.dtype == torch.float32 and granularity != "group":
        w /= torch.where(scale > 0, scale, torch.ones_like(scale))  # w / scale taken in place
    return q, scale
