MISCONCEPTION = "in the weight's own dtype"


def quantize(w, granularity, group_size=None):
    out_features, in_features = w.shape
    wide = w.float()
    if granularity == "tensor":
        absmax, group_size = wide.abs().amax(), None
    elif granularity == "channel":
        absmax, group_size = wide.abs().amax(dim=1, keepdim=True), None
    else:
        if group_size is None or in_features % group_size:
            raise ValueError(f"group_size {group_size} must divide in_features {in_features}")
        absmax = wide.view(out_features, -1, group_size).abs().amax(dim=-1)
    scale = absmax / 127
    s = _per_element(scale, group_size).to(w.dtype)  # the division runs in bfloat16 / float16
    q = torch.round(w / torch.where(s > 0, s, torch.ones_like(s))).clamp(-127, 127).to(torch.int8)
    return q, scale
