MISCONCEPTION = "not the largest magnitude"


def quantize(w, granularity, group_size=None):
    out_features, in_features = w.shape
    w = w.float()
    if granularity == "tensor":
        top, group_size = w.amax(), None
    elif granularity == "channel":
        top, group_size = w.amax(dim=1, keepdim=True), None
    else:
        if group_size is None or in_features % group_size:
            raise ValueError(f"group_size {group_size} must divide in_features {in_features}")
        top = w.view(out_features, -1, group_size).amax(dim=-1)
    scale = top / 127  # the largest value, not the largest magnitude
    s = _per_element(scale, group_size)
    q = torch.round(w / torch.where(s > 0, s, torch.ones_like(s))).clamp(-127, 127).to(torch.int8)
    return q, scale
