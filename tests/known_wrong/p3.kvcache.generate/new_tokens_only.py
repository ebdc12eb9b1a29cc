MISCONCEPTION = "the prompt followed by the new tokens"


@torch.no_grad()
def generate(model, prompt_ids, max_new_tokens):
    B, P = prompt_ids.shape
    cfg = model.config
    cache = KVCache(cfg.n_layers, B, cfg.n_heads, P + max_new_tokens, cfg.d_model // cfg.n_heads,
                    dtype=model.tok_emb.weight.dtype, device=prompt_ids.device)
    new = torch.empty(B, max_new_tokens, dtype=torch.long, device=prompt_ids.device)
    if max_new_tokens == 0:
        return new
    logits, _ = model(prompt_ids, cache=cache)
    for i in range(max_new_tokens):
        new[:, i] = logits[:, -1].argmax(dim=-1)
        if i + 1 < max_new_tokens:
            logits, _ = model(new[:, i : i + 1], cache=cache)
    return new  # the continuation alone
