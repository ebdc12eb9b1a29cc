"""A while loop over a preallocated output, the cache sized to what this call needs."""


@torch.no_grad()
def generate(model, prompt_ids, max_new_tokens):
    B, P = prompt_ids.shape
    total = P + max_new_tokens
    cfg = model.config
    cache = KVCache(cfg.n_layers, B, cfg.n_heads, total, cfg.d_model // cfg.n_heads,
                    dtype=model.lm_head.weight.dtype, device=prompt_ids.device)
    out = torch.zeros(B, total, dtype=torch.long, device=prompt_ids.device)
    out[:, :P] = prompt_ids
    t = P
    feed = prompt_ids
    while t < total:
        logits, _ = model(feed, cache=cache)
        out[:, t] = torch.argmax(logits[:, -1, :], dim=1)
        feed = out[:, t : t + 1]
        t += 1
    return out
