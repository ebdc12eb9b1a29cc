MISCONCEPTION = "the first new token continues the prompt's FIRST position"


@torch.no_grad()
def generate(model, prompt_ids, max_new_tokens):
    B, P = prompt_ids.shape
    cfg = model.config
    cache = KVCache(cfg.n_layers, B, cfg.n_heads, P + max_new_tokens, cfg.d_model // cfg.n_heads,
                    dtype=model.tok_emb.weight.dtype, device=prompt_ids.device)
    out = [prompt_ids]
    if max_new_tokens:
        logits, _ = model(prompt_ids, cache=cache)
        next_id = logits[:, 0].argmax(dim=-1, keepdim=True)  # the first position's prediction, not the last's
        for i in range(max_new_tokens):
            out.append(next_id)
            if i + 1 < max_new_tokens:
                logits, _ = model(next_id, cache=cache)
                next_id = logits[:, -1].argmax(dim=-1, keepdim=True)
    return torch.cat(out, dim=1)
