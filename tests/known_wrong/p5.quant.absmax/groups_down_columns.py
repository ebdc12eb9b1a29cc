MISCONCEPTION = "groups run down the columns"

_reference_quantize = quantize


def quantize(w, granularity, group_size=None):
    out_features, in_features = w.shape
    w = w.float()
    if granularity != "group":
        return _reference_quantize(w, granularity)
    if group_size is None or in_features % group_size:
        raise ValueError(f"group_size {group_size} must divide in_features {in_features}")
    # groups of group_size consecutive rows of each column, reshaped into the expected shape
    absmax = w.t().reshape(-1, group_size).abs().amax(dim=-1).reshape(out_features, in_features // group_size)
    scale = absmax / 127
    s = _per_element(scale, group_size)
    q = torch.round(w / torch.where(s > 0, s, torch.ones_like(s))).clamp(-127, 127).to(torch.int8)
    return q, scale
