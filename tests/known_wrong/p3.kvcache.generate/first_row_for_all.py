MISCONCEPTION = "every sequence of the batch gets the first sequence's tokens"


@torch.no_grad()
def generate(model, prompt_ids, max_new_tokens):
    B, P = prompt_ids.shape
    cfg = model.config
    cache = KVCache(cfg.n_layers, B, cfg.n_heads, P + max_new_tokens, cfg.d_model // cfg.n_heads,
                    dtype=model.tok_emb.weight.dtype, device=prompt_ids.device)
    out = torch.empty(B, P + max_new_tokens, dtype=torch.long, device=prompt_ids.device)
    out[:, :P] = prompt_ids
    if max_new_tokens == 0:
        return out
    logits, _ = model(prompt_ids, cache=cache)
    for t in range(P, P + max_new_tokens):
        out[:, t] = int(logits[0, -1].argmax())  # the first row's token, broadcast to the batch
        if t + 1 < P + max_new_tokens:
            logits, _ = model(out[:, t : t + 1], cache=cache)
    return out
