MISCONCEPTION = "torch.no_grad"


def generate(model, prompt_ids, max_new_tokens):  # no @torch.no_grad(): every step records a graph
    B, P = prompt_ids.shape
    cfg = model.config
    cache = KVCache(cfg.n_layers, B, cfg.n_heads, P + max_new_tokens, cfg.d_model // cfg.n_heads,
                    dtype=model.tok_emb.weight.dtype, device=prompt_ids.device)
    out = prompt_ids
    if max_new_tokens == 0:
        return out.clone()
    logits, _ = model(prompt_ids, cache=cache)
    for i in range(max_new_tokens):
        next_id = logits[:, -1].argmax(dim=-1, keepdim=True)
        out = torch.cat([out, next_id], dim=1)
        if i + 1 < max_new_tokens:
            logits, _ = model(next_id, cache=cache)
    return out
