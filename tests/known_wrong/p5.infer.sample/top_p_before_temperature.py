MISCONCEPTION = 'top-p is chosen from the distribution before the temperature'


# the nucleus chosen from the untempered softmax
def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token id per row of (B, V) logits: greedy at temperature 0, else a draw from the filtered softmax."""
    if temperature == 0:
        return logits.argmax(dim=-1)  # (B,): the lowest index among equal maxima, and no random number taken
    # half-precision logits are widened first: their softmax would be off by ~1% per token
    x = logits.to(torch.promote_types(logits.dtype, torch.float32)) / temperature  # (B, V), a new tensor
    if top_k is not None and top_k < x.size(-1):
        kth = x.topk(top_k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest logit
        x = x.masked_fill(x < kth, float("-inf"))  # ties with the k-th are kept
    if top_p is not None and top_p < 1.0:
        probs, order = (x * temperature).softmax(dim=-1).sort(dim=-1, descending=True)  # (B, V), most probable first
        before = probs.cumsum(dim=-1) - probs  # the mass of the tokens ranked above each one
        drop = before >= top_p  # the set already reached top_p without this token
        drop[:, 0] = False  # the most probable token always stays
        x = x.masked_fill(drop.scatter(-1, order, drop), float("-inf"))  # back to vocabulary order
    probs = x.softmax(dim=-1)  # the kept tokens renormalised; the rest exactly 0
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)
