MISCONCEPTION = "greedy, with no sampling"


@torch.no_grad()
def generate(model, prompt_ids, max_new_tokens):
    B, P = prompt_ids.shape
    cfg = model.config
    cache = KVCache(cfg.n_layers, B, cfg.n_heads, P + max_new_tokens, cfg.d_model // cfg.n_heads,
                    dtype=model.tok_emb.weight.dtype, device=prompt_ids.device)
    g = torch.Generator(device=prompt_ids.device).manual_seed(0)
    ids = prompt_ids
    if max_new_tokens == 0:
        return ids.clone()
    logits, _ = model(prompt_ids, cache=cache)
    for i in range(max_new_tokens):
        probs = torch.softmax(logits[:, -1].float(), dim=-1)
        next_id = torch.multinomial(probs, 1, generator=g)  # sampled, as a chat model would
        ids = torch.cat([ids, next_id], dim=1)
        if i + 1 < max_new_tokens:
            logits, _ = model(next_id, cache=cache)
    return ids
