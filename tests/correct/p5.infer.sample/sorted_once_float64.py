# One descending sort of the tempered logits serves both filters; the work in float64, unnormalised weights drawn.
def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    if temperature == 0:
        return torch.argmax(logits, dim=-1)
    x = logits.double() / temperature
    V = x.shape[-1]
    values, order = torch.sort(x, dim=-1, descending=True)
    keep = torch.ones_like(values, dtype=torch.bool)
    if top_k is not None and top_k < V:
        keep &= values >= values[:, top_k - 1 : top_k]  # by value: ties with the k-th stay
    if top_p is not None and top_p < 1.0:
        kept = torch.where(keep, values, torch.full_like(values, -math.inf))
        probs = torch.softmax(kept, dim=-1)
        mass_above = torch.cumsum(probs, dim=-1) - probs
        keep &= mass_above < top_p
        keep[:, 0] = True
    mask = torch.empty_like(keep).scatter_(-1, order, keep)
    weights = torch.where(mask, torch.exp(x - x.max(dim=-1, keepdim=True).values), torch.zeros_like(x))
    return torch.multinomial(weights, 1, generator=generator)[:, 0]


import math  # noqa: E402
