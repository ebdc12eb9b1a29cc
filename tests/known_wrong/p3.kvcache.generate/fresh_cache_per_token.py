MISCONCEPTION = "generate recomputes the prefix"


@torch.no_grad()
def generate(model, prompt_ids, max_new_tokens):
    cfg = model.config
    B, P = prompt_ids.shape
    ids = prompt_ids
    for _ in range(max_new_tokens):
        cache = KVCache(cfg.n_layers, B, cfg.n_heads, cfg.block_size, cfg.d_model // cfg.n_heads,
                        dtype=model.tok_emb.weight.dtype, device=prompt_ids.device)  # a new cache every token
        logits, _ = model(ids, cache=cache)
        ids = torch.cat([ids, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    return ids
