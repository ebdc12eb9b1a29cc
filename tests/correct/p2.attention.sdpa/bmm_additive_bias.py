# Batch and heads flattened into one axis for torch.bmm, the mask turned into an additive bias of 0 and -inf
# in the scores' dtype, and the softmax taken as the exponential of log_softmax.


def scaled_dot_product_attention(q, k, v, mask=None):
    *lead, T, Dh = q.shape
    S, Dv = k.shape[-2], v.shape[-1]
    q3 = q.reshape(-1, T, Dh)
    k3 = k.reshape(-1, S, Dh)
    v3 = v.reshape(-1, S, Dv)
    scores = torch.bmm(q3, k3.transpose(1, 2)).mul(1.0 / math.sqrt(Dh)).view(*lead, T, S)
    if mask is not None:
        bias = torch.zeros(mask.shape, dtype=scores.dtype, device=scores.device)
        bias.masked_fill_(mask.logical_not(), float("-inf"))  # a fresh tensor: the caller's mask is untouched
        scores = scores + bias  # broadcasts (T, S) or (B, 1, 1, S) against (B, H, T, S)
    weights = torch.log_softmax(scores, dim=-1).exp()
    return torch.bmm(weights.reshape(-1, T, S), v3).view(*lead, T, Dv)
