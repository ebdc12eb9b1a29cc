"""Computes each row in float64 with a loop over the rows (any order of float operations is accepted near
ties), the scale rounded to float32 at the end; groups by slicing."""


def quantize(w, granularity, group_size=None):
    out_features, in_features = w.shape
    if granularity == "group" and (not group_size or in_features % group_size):
        raise ValueError(f"group_size {group_size} does not divide in_features {in_features}")
    w64 = w.double()
    if granularity == "tensor":
        scale = (w64.abs().max() / 127).float()
        s = scale.double()
        q = torch.round(w64 / s) if s > 0 else torch.zeros_like(w64)
        return q.clamp(-127, 127).to(torch.int8), scale
    size = in_features if granularity == "channel" else group_size
    q = torch.zeros(out_features, in_features, dtype=torch.int8)
    scale = torch.zeros(out_features, in_features // size, dtype=torch.float32)
    for i in range(out_features):
        for k in range(in_features // size):
            piece = w64[i, k * size : (k + 1) * size]
            s = float((piece.abs().max() / 127).float())
            scale[i, k] = s
            if s > 0:
                q[i, k * size : (k + 1) * size] = torch.round(piece / s).clamp(-127, 127).to(torch.int8)
    return q, scale


def dequantize(q, scale, group_size=None):
    if group_size is not None:
        scale = scale.repeat_interleave(group_size, dim=1)
    return q.float() * scale.float()
