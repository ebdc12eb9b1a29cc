"""Multiplies by 127 / absmax instead of dividing by the scale, spreads the group scales with expand and
reshape, and masks the all-zero groups after the fact."""


def quantize(w, granularity, group_size=None):
    rows, cols = w.shape
    x = w.to(torch.float32)
    if granularity == "tensor":
        absmax = x.abs().max()
        grouped = x
    elif granularity == "channel":
        absmax = x.abs().max(dim=1, keepdim=True).values
        grouped = x
    elif granularity == "group":
        if not group_size or cols % group_size != 0:
            raise ValueError(f"in_features={cols} is not a multiple of group_size={group_size}")
        grouped = x.reshape(rows, cols // group_size, group_size)
        absmax = grouped.abs().max(dim=-1, keepdim=True).values  # (rows, groups, 1)
    else:
        raise ValueError(f"unknown granularity {granularity!r}")
    inverse = torch.where(absmax > 0, 127.0 / absmax, torch.zeros_like(absmax))
    q = torch.round(grouped * inverse).clamp(-127, 127).to(torch.int8).reshape(rows, cols)
    scale = absmax / 127.0
    return q, scale.squeeze(-1) if granularity == "group" else scale


def dequantize(q, scale, group_size=None):
    if group_size is None:
        return q.to(torch.float32) * scale
    rows, cols = q.shape
    return (q.to(torch.float32).reshape(rows, -1, group_size) * scale.unsqueeze(-1)).reshape(rows, cols)
