MISCONCEPTION = "divides by 128, not 127"


def quantize(w, granularity, group_size=None):
    out_features, in_features = w.shape
    w = w.float()
    if granularity == "tensor":
        absmax, group_size = w.abs().amax(), None
    elif granularity == "channel":
        absmax, group_size = w.abs().amax(dim=1, keepdim=True), None
    else:
        if group_size is None or in_features % group_size:
            raise ValueError(f"group_size {group_size} must divide in_features {in_features}")
        absmax = w.view(out_features, -1, group_size).abs().amax(dim=-1)
    scale = absmax / 128  # 256 levels, -128..127
    s = _per_element(scale, group_size)
    q = torch.round(w / torch.where(s > 0, s, torch.ones_like(s))).clamp(-128, 127).to(torch.int8)
    return q, scale
