MISCONCEPTION = "no forward after the last token"


@torch.no_grad()
def generate(model, prompt_ids, max_new_tokens):
    B, P = prompt_ids.shape
    cfg = model.config
    cache = KVCache(cfg.n_layers, B, cfg.n_heads, cfg.block_size, cfg.d_model // cfg.n_heads,
                    dtype=model.tok_emb.weight.dtype, device=prompt_ids.device)
    ids = prompt_ids
    if max_new_tokens == 0:
        return ids.clone()
    logits, _ = model(prompt_ids, cache=cache)
    for _ in range(max_new_tokens):
        next_id = logits[:, -1].argmax(dim=-1, keepdim=True)
        ids = torch.cat([ids, next_id], dim=1)
        if ids.size(1) < cfg.block_size:  # room left: feed it (the last forward's logits are never used)
            logits, _ = model(next_id, cache=cache)
    return ids
