# Filters as boolean masks combined with torch.where; top-p through the sorted logits' own log-softmax.
def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    if temperature == 0:
        return logits.argmax(-1)
    z = logits.float() if logits.dtype in (torch.bfloat16, torch.float16) else logits.clone()
    z = z / temperature
    neg = torch.tensor(float("-inf"), dtype=z.dtype)
    if top_k is not None and top_k < z.size(-1):
        threshold = torch.topk(z, top_k, dim=-1, sorted=True).values[..., top_k - 1, None]
        z = torch.where(z >= threshold, z, neg)
    if top_p is not None and top_p < 1.0:
        sorted_z, idx = torch.sort(z, dim=-1, descending=True)
        p_sorted = torch.log_softmax(sorted_z, dim=-1).exp()
        excluded = (torch.cumsum(p_sorted, dim=-1) - p_sorted) >= top_p
        excluded[..., 0] = False
        remove = torch.zeros_like(excluded).scatter(-1, idx, excluded)
        z = torch.where(remove, neg, z)
    return torch.multinomial(torch.softmax(z, dim=-1), 1, generator=generator).view(-1)
