MISCONCEPTION = "exactly max_new_tokens new tokens"


@torch.no_grad()
def generate(model, prompt_ids, max_new_tokens):
    B, P = prompt_ids.shape
    cfg = model.config
    cache = KVCache(cfg.n_layers, B, cfg.n_heads, P + max_new_tokens, cfg.d_model // cfg.n_heads,
                    dtype=model.tok_emb.weight.dtype, device=prompt_ids.device)
    ids = prompt_ids
    logits, _ = model(prompt_ids, cache=cache)
    for _ in range(max_new_tokens - 1):  # "the prefill already made one"
        next_id = logits[:, -1].argmax(dim=-1, keepdim=True)
        ids = torch.cat([ids, next_id], dim=1)
        logits, _ = model(next_id, cache=cache)
    return ids
