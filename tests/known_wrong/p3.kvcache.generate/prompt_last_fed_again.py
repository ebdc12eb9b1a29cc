MISCONCEPTION = "each new token must be fed once"


@torch.no_grad()
def generate(model, prompt_ids, max_new_tokens):
    B, P = prompt_ids.shape
    cfg = model.config
    cache = KVCache(cfg.n_layers, B, cfg.n_heads, cfg.block_size, cfg.d_model // cfg.n_heads,
                    dtype=model.tok_emb.weight.dtype, device=prompt_ids.device)
    if max_new_tokens == 0:
        return prompt_ids.clone()
    model(prompt_ids, cache=cache)  # the prefill: the cache now holds the whole prompt
    last = prompt_ids[:, -1:]  # ...and the loop starts by feeding its last token once more
    ids = prompt_ids
    for _ in range(max_new_tokens):
        logits, _ = model(last, cache=cache)
        last = logits[:, -1].argmax(dim=-1, keepdim=True)
        ids = torch.cat([ids, last], dim=1)
    return ids
